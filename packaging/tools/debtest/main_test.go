package debtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/packaging/tools/build"
)

// suite is what every check shares: the packages under test, built once,
// and the figures reported at the end.
type suite struct {
	root  string // the repository
	work  string // scratch space, removed at the end
	built *build.Result
	debs  map[string]string // Debian architecture → .deb
	// buildTime is how long the three packages took, binaries included.
	buildTime time.Duration

	mu       sync.Mutex
	images   map[string]string // image role → tag, once built or found
	measured map[string]string // name → figure, printed after the run
}

var env *suite

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("../../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "debtest:", err)
		return 1
	}
	work, err := os.MkdirTemp("", "edgeagent-debtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "debtest:", err)
		return 1
	}
	defer os.RemoveAll(work)
	s := &suite{root: root, work: work, debs: map[string]string{}, images: map[string]string{}, measured: map[string]string{}}

	sweepContainers()
	start := time.Now()
	res, err := build.Build(context.Background(), build.Options{Root: root, Out: filepath.Join(work, "packages")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "debtest: building the packages under test:", err)
		return 1
	}
	s.built, s.buildTime = res, time.Since(start)
	for _, p := range res.Packages {
		s.debs[p.Arch] = p.Path
	}
	fmt.Printf("debtest: built %s in %.1fs\n", res.Describe(), s.buildTime.Seconds())
	s.measure("build time, three packages", fmt.Sprintf("%.1fs", s.buildTime.Seconds()))
	for _, p := range res.Packages {
		s.measure("package size "+p.Arch, fmt.Sprintf("%d bytes (%.2f MB), binary compiled in %.1fs", p.Size, float64(p.Size)/1e6, p.BuildTime.Seconds()))
	}

	env = s
	code := m.Run()
	s.report()
	return code
}

// measure records a figure for the summary printed after the checks.
func (s *suite) measure(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.measured[name] = value
}

func (s *suite) report() {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.measured))
	for n := range s.measured {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println("debtest: measurements")
	for _, n := range names {
		fmt.Printf("  %-36s %s\n", n, s.measured[n])
	}
}

// need returns the path of a program a check needs. When it is missing,
// the check fails under CI (CI=true), which must have installed it, and
// skips with a one-line reason elsewhere.
func need(t *testing.T, program, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	missing(t, fmt.Sprintf("%s not found (apt-get install %s)", program, debianPackage))
	return ""
}

// missing reports an unavailable prerequisite: fatal under CI, a skip
// elsewhere.
func missing(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + "; CI must provide it")
	}
	t.Skip(reason)
}

// cmdResult is what a finished command left behind.
type cmdResult struct {
	out  string // stdout and stderr, interleaved
	code int
}

// runCmd runs a program with a deadline and returns its combined output
// and exit status; only a failure to start it is an error.
func runCmd(ctx context.Context, name string, args ...string) (cmdResult, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	res := cmdResult{out: string(out)}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.code = ee.ExitCode()
			return res, nil
		}
		return res, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return res, nil
}

// mustRun runs a program and fails the test unless it exits 0.
func mustRun(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := runCmd(ctx, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), res.code, res.out)
	}
	return res.out
}

// extract unpacks a package's files into a new directory.
func extract(t *testing.T, deb string) string {
	t.Helper()
	need(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	mustRun(t, time.Minute, "dpkg-deb", "-x", deb, dir)
	return dir
}
