package integration

import (
	"errors"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/proc"
)

// The child-process runner, proved on a real process (testdata/child).
func TestHarnessChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a child process: skipped under -short")
	}
	bin := builds.Build(t, "./testdata/child")
	if again := builds.Build(t, "./testdata/child"); again != bin {
		t.Fatalf("second Build gave %s, want the first build %s", again, bin)
	}

	t.Run("signals, lines and exit code", func(t *testing.T) {
		p := proc.Start(t, bin, proc.Options{
			Args: []string{"-lines", "3", "-term-code", "3"},
			Env:  []string{"CHILD_GREETING=hello"},
		})
		ready := p.WaitLine(t, 0, regexp.MustCompile(`^child ready pid=\d+ greeting="hello"`), 10*time.Second)
		if ready.Stream != "stderr" {
			t.Errorf("ready line on %s, want stderr", ready.Stream)
		}
		third := p.WaitLine(t, 0, regexp.MustCompile(`^line 3$`), 10*time.Second)
		if third.Stream != "stdout" {
			t.Errorf("numbered line on %s, want stdout", third.Stream)
		}
		mark := p.LineCount()
		p.Signal(t, syscall.SIGHUP)
		reload := p.WaitLine(t, mark, regexp.MustCompile(`^reloaded$`), 10*time.Second)
		if reload.N < mark {
			t.Errorf("matched line %d, before the mark %d", reload.N, mark)
		}
		// A line from before the mark does not satisfy a wait after it.
		if _, err := p.AwaitLine(mark, regexp.MustCompile(`^line 1$`), 50*time.Millisecond); !errors.Is(err, proc.ErrTimeout) {
			t.Errorf("AwaitLine matched a line before the mark: err=%v", err)
		}
		p.Signal(t, syscall.SIGTERM)
		exit := p.Wait(t, 10*time.Second)
		if exit.Code != 3 || exit.Signal != 0 {
			t.Errorf("exit after SIGTERM: %v, want exit code 3", exit)
		}
		p.WaitLine(t, mark, regexp.MustCompile(`^stopping on terminated$`), time.Second)
	})

	t.Run("exit at once, last line without newline", func(t *testing.T) {
		p := proc.Start(t, bin, proc.Options{Args: []string{"-exit", "7"}})
		if exit := p.Wait(t, 10*time.Second); exit.Code != 7 {
			t.Errorf("exit: %v, want code 7", exit)
		}
		p.WaitLine(t, 0, regexp.MustCompile(`^exiting without a newline$`), time.Second)
		// A wait for a line that never comes ends when the child does, not
		// at its deadline.
		start := time.Now()
		_, err := p.AwaitLine(0, regexp.MustCompile(`never printed`), time.Minute)
		if err == nil || errors.Is(err, proc.ErrTimeout) {
			t.Errorf("AwaitLine on an ended child: %v, want an error naming the exit", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("AwaitLine on an ended child took %v", d)
		}
	})

	t.Run("ignored SIGTERM, deadline, SIGKILL", func(t *testing.T) {
		p := proc.Start(t, bin, proc.Options{Args: []string{"-ignore-term"}})
		p.WaitLine(t, 0, regexp.MustCompile(`^child ready`), 10*time.Second)
		p.Signal(t, syscall.SIGTERM)
		p.WaitLine(t, 0, regexp.MustCompile(`^ignoring SIGTERM$`), 10*time.Second)
		if _, err := p.AwaitExit(50 * time.Millisecond); !errors.Is(err, proc.ErrTimeout) {
			t.Fatalf("AwaitExit of a child ignoring SIGTERM: %v, want a timeout", err)
		}
		if exit := p.Kill(t); exit.Signal != syscall.SIGKILL || exit.Code != -1 {
			t.Errorf("exit after SIGKILL: %+v", exit)
		}
	})

	t.Run("RSS", func(t *testing.T) {
		p := proc.Start(t, bin, proc.Options{Args: []string{"-hold-mb", "64"}})
		p.WaitLine(t, 0, regexp.MustCompile(`held=64MiB`), 20*time.Second)
		rss, err := p.RSS()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("child holding 64 MiB: RSS %.1f MiB", float64(rss)/(1<<20))
		if rss < 64<<20 {
			t.Errorf("RSS %d bytes, want at least the 64 MiB the child touched", rss)
		}
	})

	var left *proc.Process
	t.Run("cleanup kills", func(t *testing.T) {
		left = proc.Start(t, bin, proc.Options{})
		left.WaitLine(t, 0, regexp.MustCompile(`^child ready`), 10*time.Second)
	})
	if !left.Exited() {
		t.Errorf("child pid %d still running after its test's cleanup", left.PID())
	}
}
