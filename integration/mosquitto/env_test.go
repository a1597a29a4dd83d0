package mosquitto

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestOwnerAlive(t *testing.T) {
	self := processOwner(os.Getpid())
	if !ownerAlive(self) {
		t.Errorf("this process (%s) counts as gone", self)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	// The owner of a pid whose process has ended.
	host, _ := os.Hostname()
	gone := fmt.Sprintf("%s/%d/%s", host, cmd.Process.Pid, processStart(os.Getpid()))
	if ownerAlive(gone) {
		t.Errorf("an ended process (%s) counts as alive", gone)
	}
	// The same pid with another start time is another process.
	if reused := fmt.Sprintf("%s/%d/1", host, os.Getpid()); ownerAlive(reused) {
		t.Errorf("a reused pid (%s) counts as the owner", reused)
	}
	// Owners this process cannot judge are left alone.
	for _, o := range []string{"other-host/1/1", "", "garbage", host + "/x/1"} {
		if !ownerAlive(o) {
			t.Errorf("owner %q counts as gone; it is not ours to judge", o)
		}
	}
}

// Without $EDGEAGENT_REQUIRE_DOCKER a test that needs Docker skips with
// the first line of the reason; with it, the test fails. The test binary
// runs itself as the test that calls Require, to see both outcomes.
func TestRequire(t *testing.T) {
	if os.Getenv("EDGEAGENT_TEST_REQUIRE_CHILD") == "1" {
		e := &Env{err: errors.New("no Docker engine: connection refused\nsecond line")}
		e.Require(t)
		t.Log("Require returned")
		return
	}
	for _, c := range []struct {
		require  string
		fails    bool
		contains string
	}{
		{"", false, "--- SKIP: TestRequire"},
		{"1", true, "EDGEAGENT_REQUIRE_DOCKER=1 and no Docker engine: connection refused"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequire$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "EDGEAGENT_TEST_REQUIRE_CHILD=1", RequireEnv+"="+c.require)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fails || !strings.Contains(string(out), c.contains) || strings.Contains(string(out), "Require returned") {
			t.Errorf("%s=%q: exit %v, output:\n%s", RequireEnv, c.require, err, out)
		}
		if !c.fails && strings.Contains(string(out), "second line") {
			t.Errorf("the skip reason is more than one line:\n%s", out)
		}
	}
	var e *Env
	skipped := false
	t.Run("unprepared", func(t *testing.T) {
		t.Setenv(RequireEnv, "")
		defer func() { skipped = t.Skipped() }()
		e.Require(t)
	})
	if !skipped {
		t.Error("Require on an unprepared Env did not skip")
	}
}

func TestRequired(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "true": true} {
		t.Setenv(RequireEnv, v)
		if Required() != want {
			t.Errorf("%s=%q: Required() = %t", RequireEnv, v, !want)
		}
	}
}
