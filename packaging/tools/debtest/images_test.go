package debtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test images are Debian roots made here: no image registry is
// reachable, Debian's archive is. Each is built once per machine and
// found again by a tag that hashes its recipe, so a changed recipe builds
// a new image and an unchanged one is never rebuilt.
const (
	suiteName = "bookworm"
	// imageRepo names the local images; nothing is ever pushed or pulled.
	imageRepo = "edgeagent-debtest"
)

// mirror is Debian's archive (EDGEAGENT_DEBIAN_MIRROR overrides it).
func mirror() string {
	if m := os.Getenv("EDGEAGENT_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

// baseRecipe is a clean minimal Debian (debootstrap's minbase) plus the
// packages edgeagent depends on, as apt would install them on a user's
// machine before it; deps is the amd64 package's Depends field.
func baseRecipe(deps string) []string {
	var names []string
	for _, dep := range strings.Split(deps, ",") {
		// "adduser (>= 3.11) | passwd" → adduser
		name := strings.Fields(strings.SplitN(dep, "|", 2)[0])
		if len(name) > 0 {
			names = append(names, name[0])
		}
	}
	sort.Strings(names)
	return []string{"--variant=minbase", "--include=" + strings.Join(names, ","), suiteName}
}

// systemdPackages turn the base into a root that boots with systemd.
var systemdPackages = []string{"systemd", "systemd-sysv"}

func recipeTag(role string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%s:%s-%s-%s", imageRepo, suiteName, role, hex.EncodeToString(h[:])[:12])
}

// baseImage returns the tag of the clean Debian image, building it with
// debootstrap the first time on this machine.
func (s *suite) baseImage(t *testing.T) string {
	t.Helper()
	needDocker(t)
	need(t, "dpkg-deb", "dpkg")
	deps := strings.TrimSpace(mustRun(t, time.Minute, "dpkg-deb", "--field", s.debs["amd64"], "Depends"))
	recipe := baseRecipe(deps)
	tag := recipeTag("minbase", append([]string{mirror()}, recipe...)...)
	return s.image(t, "minbase", tag, func() error {
		need(t, "debootstrap", "debootstrap")
		return buildBase(tag, recipe)
	})
}

// systemdImage returns the tag of the base image with systemd as init.
func (s *suite) systemdImage(t *testing.T) string {
	t.Helper()
	base := s.baseImage(t)
	tag := recipeTag("systemd", append([]string{base}, systemdPackages...)...)
	return s.image(t, "systemd", tag, func() error { return buildLayer(base, tag, systemdPackages) })
}

// brokerPackages add Debian's Mosquitto to the systemd root: a board whose
// agent reports to a broker on the same board, which is what the shipped
// configuration's tcp://localhost:1883 expects.
var brokerPackages = []string{"mosquitto", "mosquitto-clients"}

// brokerImage returns the tag of the systemd image with Mosquitto
// installed as a service (enabled: it starts when the container boots).
func (s *suite) brokerImage(t *testing.T) string {
	t.Helper()
	base := s.systemdImage(t)
	tag := recipeTag("mosquitto", append([]string{base}, brokerPackages...)...)
	return s.image(t, "mosquitto", tag, func() error { return buildLayer(base, tag, brokerPackages) })
}

// image finds tag or builds it, holding a machine-wide lock so two test
// runs never build the same image at once.
func (s *suite) image(t *testing.T, role, tag string, buildIt func() error) string {
	t.Helper()
	s.mu.Lock()
	known := s.images[role]
	s.mu.Unlock()
	if known == tag {
		return tag
	}
	unlock, err := lockMachine()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if !imageExists(tag) {
		fmt.Fprintf(os.Stderr, "debtest: building image %s (once per machine; the Debian root takes a few minutes)\n", tag)
		start := time.Now()
		if err := buildIt(); err != nil {
			t.Fatalf("building image %s: %v", tag, err)
		}
		took := time.Since(start)
		fmt.Fprintf(os.Stderr, "debtest: built image %s in %.0fs\n", tag, took.Seconds())
		s.measure("image build "+role, fmt.Sprintf("%.0fs (%s)", took.Seconds(), tag))
	} else {
		s.measure("image build "+role, "cached ("+tag+")")
	}
	s.mu.Lock()
	s.images[role] = tag
	s.mu.Unlock()
	return tag
}

func imageExists(tag string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runCmd(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", tag)
	return err == nil && res.code == 0
}

// lockMachine takes an exclusive lock shared by every test process on
// this machine.
func lockMachine() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "edgeagent-debtest-images.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the image cache: %w", err)
	}
	return func() { f.Close() }, nil
}

// buildBase runs debootstrap into a scratch directory and imports the
// root as an image.
func buildBase(tag string, recipe []string) error {
	scratch, err := os.MkdirTemp("/var/tmp", "edgeagent-debootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	root := filepath.Join(scratch, "root")
	// Downloaded .debs are kept, so a changed recipe fetches only what
	// is new.
	cache := "/var/cache/edgeagent-debtest/debootstrap"
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := append([]string{"--cache-dir=" + cache}, recipe...)
	args = append(args, root, mirror())
	if res, err := runCmd(ctx, "debootstrap", args...); err != nil || res.code != 0 {
		return fmt.Errorf("debootstrap %s: %v\n%s", strings.Join(args, " "), err, tail(res.out, 30))
	}
	// Package lists and the apt cache are not needed in the image.
	for _, junk := range []string{"var/lib/apt/lists", "var/cache/apt/archives"} {
		entries, _ := filepath.Glob(filepath.Join(root, junk, "*"))
		for _, e := range entries {
			if filepath.Base(e) != "partial" && filepath.Base(e) != "lock" {
				os.RemoveAll(e)
			}
		}
	}

	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-c", ".")
	importCmd := exec.CommandContext(ctx, "docker", "import", "--change", `CMD ["/bin/bash"]`, "-", tag)
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	importCmd.Stdin = pipe
	var tarErr, importOut strings.Builder
	tarCmd.Stderr = &tarErr
	importCmd.Stdout, importCmd.Stderr = &importOut, &importOut
	if err := importCmd.Start(); err != nil {
		return err
	}
	if err := tarCmd.Run(); err != nil {
		_ = importCmd.Wait()
		return fmt.Errorf("tar of the root: %w: %s", err, tarErr.String())
	}
	if err := importCmd.Wait(); err != nil {
		return fmt.Errorf("docker import: %w: %s", err, importOut.String())
	}
	return nil
}

// buildLayer installs packages into a container of the base image (apt
// reaches Debian's archive through the host's network) and commits it as
// an image that boots systemd.
func buildLayer(base, tag string, packages []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	name := fmt.Sprintf("edgeagent-debtest-imagebuild-%d", os.Getpid())
	script := "set -e; apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends " +
		strings.Join(packages, " ") + "; apt-get clean; rm -rf /var/lib/apt/lists/*"
	res, err := runCmd(ctx, "docker", "run", "--name", name, "--label", fmt.Sprintf("%s=%d", pidLabel, os.Getpid()),
		"--network", "host", base, "sh", "-c", script)
	// Removed however the build ends; a killed run's container is left
	// to the sweep.
	defer func() { _, _ = runCmd(context.Background(), "docker", "rm", "-f", name) }()
	if err != nil || res.code != 0 {
		return fmt.Errorf("installing %s: %v\n%s", strings.Join(packages, " "), err, tail(res.out, 30))
	}
	if res, err := runCmd(ctx, "docker", "commit", "--change", `CMD ["/sbin/init"]`, name, tag); err != nil || res.code != 0 {
		return fmt.Errorf("docker commit: %v %s", err, res.out)
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
