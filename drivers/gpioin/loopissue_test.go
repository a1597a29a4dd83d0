package gpioin_test

import (
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// TestLoopTimerStopBeforeCallbackRuns shows a sharp edge of loop.Timer found
// while writing the debouncer and the button: when a timer fires, the loop
// takes it off the heap and queues its callback with CallSoon. Code that runs
// in between — a task woken in the same pass, or a Post drained between two
// ready entries — sees Pending() false, and its Stop or Reset does not keep
// the already queued callback from running. Stop says false ("already
// fired") although the callback has not run yet. The drivers here guard
// against it (a callback that finds its timer Pending again, or its state
// moved on, does nothing); the loop could instead let Stop cancel a queued
// callback.
// skipLoopIssue is false only to reproduce the issue (go test -run LoopTimer).
const skipLoopIssue = true

func TestLoopTimerStopBeforeCallbackRuns(t *testing.T) {
	if skipLoopIssue {
		t.Skip("loop issue (reported, not ours to fix): Timer.Stop after the timer fired but before its callback ran does not prevent the callback")
	}
	runVirtual(t, func(tk *loop.Task) error {
		l := tk.Loop()
		ran, stopped := false, false
		var tm *loop.Timer
		g := loop.NewGroup(tk)
		g.Go("stopper", func(tk *loop.Task) error {
			if err := tk.Sleep(time.Second); err != nil { // set before the timer: runs first at 1 s
				return err
			}
			stopped = tm.Stop()
			return nil
		})
		if err := tk.Yield(); err != nil {
			return err
		}
		tm = l.CallLater(time.Second, func() { ran = true })
		if err := tk.Sleep(2 * time.Second); err != nil {
			return err
		}
		if ran {
			t.Errorf("callback ran after Stop (which returned %v) was called before it ran", stopped)
		}
		return g.Wait(tk)
	})
}
