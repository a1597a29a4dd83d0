package mosquitto

import (
	"fmt"
	"os"
	"os/exec"
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

func TestRequireSkipsWithoutDocker(t *testing.T) {
	t.Setenv(RequireEnv, "")
	var skipped bool
	t.Run("nil env", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		var e *Env
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
