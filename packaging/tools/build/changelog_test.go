package build

import (
	"strings"
	"testing"
)

const maintainer = "edgeagent maintainers <m@example.org>"

func TestSnapshotChangelogEntry(t *testing.T) {
	src := Source{
		Version: "0.2.0~git20261202153333.7a3fb1e",
		Epoch:   t0,
		Commit:  "7a3fb1e760bd0123456789abcdef0123456789ab",
		Subject: "cmd/edgeagent: version names the revision",
	}
	got, err := Changelog(src, maintainer, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `edgeagent (0.2.0~git20261202153333.7a3fb1e) unstable; urgency=medium

  * Snapshot of commit 7a3fb1e760bd: cmd/edgeagent: version names the revision

 -- edgeagent maintainers <m@example.org>  Wed, 02 Dec 2026 15:33:33 +0000
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSnapshotGoesAboveHistory(t *testing.T) {
	history := "edgeagent (0.1.0) unstable; urgency=medium\n\n  * First release.\n\n -- " + maintainer + "  Tue, 01 Dec 2026 10:00:00 +0000\n"
	src := Source{Version: "0.2.0~git20261202153333.7a3fb1e", Epoch: t0, Commit: strings.Repeat("a", 40), Subject: "x", Dirty: true}
	got, err := Changelog(src, maintainer, []byte(history))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.HasPrefix(s, "edgeagent (0.2.0~git20261202153333.7a3fb1e) ") || !strings.HasSuffix(s, "\n\n"+history) {
		t.Errorf("got:\n%s", s)
	}
	if !strings.Contains(s, "(with uncommitted changes)") {
		t.Error("a dirty tree's entry does not say so")
	}
	for _, line := range strings.Split(s, "\n") {
		if len(line) > 80 && !strings.HasPrefix(line, " -- ") {
			t.Errorf("line longer than 80 columns: %q", line)
		}
	}
}

func TestReleaseNeedsItsEntry(t *testing.T) {
	history := []byte("edgeagent (0.2.0) unstable; urgency=medium\n\n  * Release.\n\n -- " + maintainer + "  Wed, 02 Dec 2026 15:33:33 +0000\n")
	got, err := Changelog(Source{Version: "0.2.0", Release: true, Epoch: t0}, maintainer, history)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(history) {
		t.Errorf("a release's changelog is not its history:\n%s", got)
	}
	_, err = Changelog(Source{Version: "0.3.0", Release: true, Epoch: t0}, maintainer, history)
	if err == nil || !strings.Contains(err.Error(), `"0.2.0"`) {
		t.Errorf("release 0.3.0 over a history ending at 0.2.0: err = %v", err)
	}
}

func TestMalformedHistory(t *testing.T) {
	_, err := Changelog(Source{Version: "0.2.0~git1.a", Epoch: t0}, maintainer, []byte("edgeagent (0.1.0) unstable; urgency=medium\n\n  * x\n\nnot a head\n"))
	if err == nil || !strings.Contains(err.Error(), "packaging/changelog:5:") {
		t.Errorf("err = %v, want one naming packaging/changelog line 5", err)
	}
}
