package uart

import (
	"errors"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// TestVirtualClockOutrunsGoroutines pins a property of loop.VirtualClock
// that shaped Stream.stop: a task waiting, under a WaitFor bound, for a
// goroutine that will Post within microseconds times out, because the
// clock jumps to the bound as soon as every task waits and no Post is
// outstanding — and a Post not yet made cannot be outstanding. Stream.stop
// therefore waits through loop.Offload (which holds the virtual clock
// still) with a real-time bound. A loop API to hold the virtual clock
// while a goroutine is known to be about to Post (Offload without the
// goroutine) would let such waits use WaitFor.
func TestVirtualClockOutrunsGoroutines(t *testing.T) {
	t.Skip("loop: a VirtualClock cannot know a goroutine is about to Post; see the comment (workaround in Stream.stop)")
	l := loop.New(loop.WithClock(loop.NewVirtualClock(time.Time{})))
	runLoop(t, l, func(tk *loop.Task) error {
		var done primitives.Event[bool]
		go func() {
			time.Sleep(time.Millisecond) // the goroutine's work, in real time
			l.Post(func() { done.Set(true) })
		}()
		err := loop.WaitFor(tk, time.Hour, func(tk *loop.Task) error {
			_, err := done.Wait(tk)
			return err
		})
		if errors.Is(err, loop.ErrTimeout) {
			t.Error("an hour of virtual time passed before a goroutine's 1 ms of work")
		}
		return nil
	})
}

// TestGroupDropsCleanupErrorsOfCancelledChildren pins a loop behaviour that
// hid a bug here: Group.Wait and Stop skip every child error that matches
// ErrCancelled with errors.Is, so a cancelled child reporting a cleanup
// failure alongside (errors.Join(ErrCancelled, err), as Stream.Run does
// when its port's goroutines do not stop) is silently dropped. The tests
// here wait for Stream.Run with Task.Wait instead (withStream).
// Suggestion: skip only errors equal to ErrCancelled, or unwrap a join.
func TestGroupDropsCleanupErrorsOfCancelledChildren(t *testing.T) {
	t.Skip("loop: Group.Wait/Stop drop errors.Join(ErrCancelled, cleanupErr); see the comment")
	runLoop(t, loop.New(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("child", func(tk *loop.Task) error {
			err := tk.Sleep(time.Hour)
			return errors.Join(err, errors.New("cleanup failed"))
		})
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := g.Stop(tk); err == nil {
			t.Error("Group.Stop returned nil; the child's cleanup failure was lost")
		}
		return nil
	})
}
