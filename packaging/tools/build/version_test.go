package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repo is a scratch git repository with a packaging/VERSION file.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T, version string) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q")
	r.write("packaging/VERSION", version+"\n")
	return r
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit records everything at a fixed time and returns the commit id.
func (r *repo) commit(subject string, at time.Time) string {
	r.t.Helper()
	r.git("add", "-A")
	stamp := at.Format(time.RFC3339)
	cmd := exec.Command("git", "-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", subject)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git commit: %v\n%s", err, out)
	}
	return r.git("rev-parse", "HEAD")
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	out, err := exec.Command("git", append([]string{"-C", r.dir}, args...)...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func noEnv(string) string { return "" }

var t0 = time.Date(2026, 12, 2, 15, 33, 33, 0, time.UTC)

func TestSnapshotVersion(t *testing.T) {
	r := newRepo(t, "0.2.0")
	id := r.commit("first", t0)
	src, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := "0.2.0~git20261202153333." + id[:7]
	if src.Version != want || src.Release || src.Dirty || src.Commit != id || src.Subject != "first" || !src.Epoch.Equal(t0) {
		t.Errorf("got %+v, want version %s at %v", src, want, t0)
	}
}

func TestSnapshotsIncreaseAndStayBelowTheRelease(t *testing.T) {
	r := newRepo(t, "0.2.0")
	r.commit("first", t0)
	a, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r.write("x", "y")
	r.commit("second", t0.Add(time.Second))
	b, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r.git("tag", "v0.2.0")
	rel, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != "0.2.0" || !rel.Release {
		t.Fatalf("at tag v0.2.0: %+v", rel)
	}
	r.write("x", "z")
	r.commit("third", t0.Add(time.Hour))
	if _, err := ResolveSource(r.dir, noEnv); err == nil || !strings.Contains(err.Error(), "VERSION must name the next release") {
		t.Errorf("VERSION equal to the last tag: err = %v", err)
	}
	r.write("packaging/VERSION", "0.3.0\n")
	r.commit("next", t0.Add(2*time.Hour))
	c, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	assertOrder(t, a.Version, b.Version, rel.Version, c.Version)
}

func TestReleaseCandidateTag(t *testing.T) {
	r := newRepo(t, "0.3.0")
	r.commit("rc", t0)
	r.git("tag", "v0.3.0-rc1")
	src, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if src.Version != "0.3.0~rc1" || !src.Release {
		t.Errorf("got %+v", src)
	}
	assertOrder(t, src.Version, "0.3.0")
}

func TestDirtyTree(t *testing.T) {
	r := newRepo(t, "0.2.0")
	id := r.commit("first", t0)
	r.write("new-file", "x")
	src, err := ResolveSource(r.dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0.2.0~git20261202153333." + id[:7] + ".dirty"; src.Version != want || !src.Dirty {
		t.Errorf("got %q dirty=%v, want %q", src.Version, src.Dirty, want)
	}
}

func TestSourceWithoutGit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "packaging", "VERSION")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, t0, t0); err != nil {
		t.Fatal(err)
	}
	src, err := ResolveSource(dir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if src.Version != "1.0.0~src" || !src.Epoch.Equal(t0) || src.Commit != "" {
		t.Errorf("got %+v", src)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	r := newRepo(t, "0.2.0")
	r.commit("first", t0)
	src, err := ResolveSource(r.dir, func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "1700000000"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if !src.Epoch.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("epoch %v", src.Epoch)
	}
	// The version still names the commit's time: SOURCE_DATE_EPOCH moves
	// time stamps, not the order of builds.
	if !strings.Contains(src.Version, "~git20261202153333.") {
		t.Errorf("version %q", src.Version)
	}
	if _, err := ResolveSource(r.dir, func(string) string { return "yesterday" }); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("a bad SOURCE_DATE_EPOCH: err = %v", err)
	}
}

func TestBadVersionFile(t *testing.T) {
	for _, bad := range []string{"v1", "0.2", "0.2.0\n# comment", ""} {
		r := newRepo(t, bad)
		r.commit("first", t0)
		_, err := ResolveSource(r.dir, noEnv)
		if err == nil || !strings.Contains(err.Error(), "packaging/VERSION") || !strings.Contains(err.Error(), "is not a release version") {
			t.Errorf("VERSION %q: err = %v, want one naming packaging/VERSION", bad, err)
		}
	}
}

// assertOrder checks that dpkg sorts the versions in the given order.
func assertOrder(t *testing.T, versions ...string) {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg not found: cannot compare Debian versions")
	}
	for i := 1; i < len(versions); i++ {
		if err := exec.Command("dpkg", "--compare-versions", versions[i-1], "lt", versions[i]).Run(); err != nil {
			t.Errorf("dpkg does not sort %s before %s", versions[i-1], versions[i])
		}
	}
}
