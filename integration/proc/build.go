package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Builder builds main packages into a temporary directory, each package
// (with its flags) once however many tests ask. A test package makes one
// in TestMain and closes it after m.Run, which removes the binaries.
type Builder struct {
	dir    string
	mu     sync.Mutex
	builds map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
	took time.Duration
}

// NewBuilder makes a builder with its own temporary directory.
func NewBuilder() (*Builder, error) {
	dir, err := os.MkdirTemp("", "edgeagent-proc-")
	if err != nil {
		return nil, err
	}
	return &Builder{dir: dir, builds: map[string]*build{}}, nil
}

// Close removes the built binaries.
func (b *Builder) Close() error { return os.RemoveAll(b.dir) }

// Build returns the path of pkg built with `go build flags... pkg`, building
// it on the first call. pkg is an import path or a path relative to the
// test's package directory (./testdata/x). A failed build fails this test
// and every later one asking for the same package, with the compiler's
// output. Builds run with the test process's environment (GOFLAGS, CGO…).
func (b *Builder) Build(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	key := pkg + "\x00" + strings.Join(flags, "\x00")
	b.mu.Lock()
	bl := b.builds[key]
	if bl == nil {
		bl = &build{}
		b.builds[key] = bl
	}
	n := len(b.builds)
	b.mu.Unlock()
	bl.once.Do(func() {
		start := time.Now()
		bl.path = filepath.Join(b.dir, fmt.Sprintf("%s-%d", path.Base(filepath.ToSlash(pkg)), n))
		args := append(append([]string{"build", "-o", bl.path}, flags...), pkg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool(), args...).CombinedOutput()
		if err != nil {
			bl.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		bl.took = time.Since(start)
	})
	if bl.err != nil {
		t.Fatal(bl.err)
	}
	t.Logf("%s built in %v (once per run)", pkg, bl.took.Round(time.Millisecond))
	return bl.path
}

// goTool is the go command of the toolchain running the tests when it can
// be found, else the one on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
