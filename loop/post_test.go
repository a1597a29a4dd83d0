package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Eight goroutines post 10 000 functions each: nothing is lost and each
// goroutine's posts run in the order they were made.
func TestPostFromManyGoroutines(t *testing.T) {
	const goroutines, posts = 8, 10_000
	// No hog detector: on a loaded machine it may report (and Post) when the
	// loop's thread is descheduled, and this test counts posts exactly.
	l := New(WithHogThreshold(0), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	next := make([]int, goroutines)
	var outOfOrder, received int
	var all WaitQueue
	var wg sync.WaitGroup
	err := l.Run(context.Background(), func(t *Task) error {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range posts {
					if err := l.Post(func() {
						if next[g] != i {
							outOfOrder++
						}
						next[g] = i + 1
						received++
						if received == goroutines*posts {
							all.WakeAll()
						}
					}); err != nil {
						panic(err)
					}
				}
			}()
		}
		for received < goroutines*posts {
			if err := all.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	wg.Wait()
	if err != nil || received != goroutines*posts || outOfOrder != 0 {
		t.Fatalf("Run %v: received %d, out of order %d", err, received, outOfOrder)
	}
	if n := l.Stats().PostLatency.Count(); n != goroutines*posts {
		t.Fatalf("latency histogram counted %d posts", n)
	}
}

func TestPostBeforeRunAndAfterStop(t *testing.T) {
	l, _, _ := virtualLoop()
	ran := false
	if err := l.Post(func() { ran = true }); err != nil {
		t.Fatal(err)
	}
	run(t, l, func(t *Task) error { return t.Yield() })
	if !ran {
		t.Fatal("a post made before Run did not run")
	}
	if err := l.Post(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Post after stop = %v, want ErrClosed", err)
	}
}

// Posts run before ordinary ready tasks (the seed's fast_io priority).
func TestPostRunsBeforeReadyTasks(t *testing.T) {
	l, _, _ := virtualLoop()
	var got []string
	run(t, l, func(t *Task) error {
		other := l.Go("other", func(t *Task) error { got = append(got, "task"); return nil })
		_ = l.Post(func() { got = append(got, "post") })
		if err := t.Yield(); err != nil {
			return err
		}
		return other.Wait(t)
	})
	if strings.Join(got, " ") != "post task" {
		t.Fatalf("order %v", got)
	}
}

func TestOffload(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		v, err := Offload(t, func(ctx context.Context) (string, error) { return "synced", nil })
		if v != "synced" || err != nil {
			return fmt.Errorf("Offload = %q, %v", v, err)
		}
		_, err = Offload(t, func(ctx context.Context) (int, error) { panic("disk on fire") })
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "disk on fire" || pe.Task != "main" {
			return fmt.Errorf("panicking Offload = %v", err)
		}
		return nil
	})
}

// Cancelling a task in Offload returns at once and cancels the call's
// context; the loop waits for the call at shutdown.
func TestOffloadCancelled(t *testing.T) {
	l, _, _ := virtualLoop()
	var sawCancel bool
	run(t, l, func(t *Task) error {
		started := make(chan struct{})
		task := l.Go("sync", func(t *Task) error {
			_, err := Offload(t, func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				sawCancel = true
				return 0, ctx.Err()
			})
			return err
		})
		if err := t.Yield(); err != nil { // the task starts its call
			return err
		}
		<-started //loopvet:ok the call has certainly started; this only orders the test
		task.Cancel()
		if err := task.Wait(t); !errors.Is(err, ErrCancelled) {
			return fmt.Errorf("Offload = %v", err)
		}
		return nil
	})
	if !sawCancel {
		t.Fatal("the offloaded call's context was not cancelled")
	}
}

// The virtual clock stands still while an Offload is outstanding, even
// with the loop idle and a timer pending.
func TestVirtualClockWaitsForOffload(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		l.Go("sleeper", func(t *Task) error { return t.Sleep(time.Hour) })
		elapsed, err := Offload(t, func(ctx context.Context) (time.Duration, error) {
			for !l.watch.idle.Load() { // until the loop waits with nothing to do
				time.Sleep(time.Millisecond)
			}
			return vc.Elapsed(), nil
		})
		if err != nil || elapsed != 0 {
			return fmt.Errorf("clock moved to %v during Offload (err %v)", elapsed, err)
		}
		return nil
	})
}

func TestPanicIsolated(t *testing.T) {
	l, _, logs := virtualLoop()
	run(t, l, func(t *Task) error {
		steady := l.Go("steady", func(t *Task) error {
			for range 3 {
				if err := t.Sleep(time.Second); err != nil {
					return err
				}
			}
			return nil
		})
		bad := l.Go("bad", func(t *Task) error {
			if err := t.Sleep(1500 * time.Millisecond); err != nil {
				return err
			}
			panic("driver bug")
		})
		l.CallLater(time.Second, func() { panic("callback bug") })
		var pe *PanicError
		if err := bad.Wait(t); !errors.As(err, &pe) || pe.Task != "bad" || len(pe.Stack) == 0 {
			return fmt.Errorf("bad: %v", err)
		}
		return steady.Wait(t)
	})
	out := logs.String()
	for _, want := range []string{`task panicked" task=bad`, `panic="driver bug"`,
		"post_test.go", // the stack names the panicking line
		`callback panicked" panic="callback bug"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

// An error nobody awaits is logged once, by task name; an awaited one is not.
func TestUnawaitedErrorLoggedOnce(t *testing.T) {
	l, _, logs := virtualLoop()
	run(t, l, func(t *Task) error {
		l.Go("orphan", func(t *Task) error { return errors.New("boom") })
		awaited := l.Go("awaited", func(t *Task) error { return errors.New("handled") })
		if err := awaited.Wait(t); err == nil {
			return errors.New("awaited task: no error")
		}
		return t.Sleep(time.Second)
	})
	if n := logs.count(`nobody awaits it" task=orphan err=boom`); n != 1 {
		t.Fatalf("orphan logged %d times:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "handled") {
		t.Fatalf("awaited error logged:\n%s", logs)
	}
}

func TestMisusePanics(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		other := l.Go("other", func(t *Task) error { return t.Sleep(time.Hour) })
		if err := t.Yield(); err != nil {
			return err
		}
		// The misuses below panic: nothing is awaited, so nothing to check.
		msg := mustPanicString(func() { _ = other.Sleep(time.Second) }) //loopvet:ok misuse under test
		if !strings.Contains(msg, `from task "main"`) {
			return fmt.Errorf("await on another task: panic %q", msg)
		}
		msg = mustPanicString(func() { _ = t.Wait(t) }) //loopvet:ok misuse under test
		if !strings.Contains(msg, "waits for itself") {
			return fmt.Errorf("Wait on itself: panic %q", msg)
		}
		var fromCallback string
		l.CallSoon(func() {
			fromCallback = mustPanicString(func() { _ = t.Yield() }) //loopvet:ok misuse under test
		})
		if err := t.Yield(); err != nil {
			return err
		}
		if !strings.Contains(fromCallback, "outside its own function") {
			return fmt.Errorf("await from a callback: panic %q", fromCallback)
		}
		other.Cancel()
		if err := other.Wait(t); !errors.Is(err, ErrCancelled) {
			return err
		}
		msg = mustPanicString(func() { _ = other.Yield() }) //loopvet:ok misuse under test
		if !strings.Contains(msg, "has finished") {
			return fmt.Errorf("await on a finished task: panic %q", msg)
		}
		return nil
	})
}

// A task that computes without awaiting is named by the hog detector.
func TestHogDetector(t *testing.T) {
	logs := &logBuffer{}
	l := New(WithHogThreshold(10*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	run(t, l, func(t *Task) error {
		hog := l.Go("hog", func(t *Task) error {
			// Spin until the watchdog has flagged us, so the test does not
			// depend on how fast this machine is.
			deadline := time.Now().Add(10 * time.Second)
			for !l.inbox.pending() && time.Now().Before(deadline) {
			}
			return nil
		})
		return hog.Wait(t)
	})
	s := l.Stats()
	if s.Hogs != 1 || s.MaxHogTask != "hog" || s.MaxHog < 10*time.Millisecond || s.MaxRun < 10*time.Millisecond {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), `blocked every other task" task=hog`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// A task stuck in shielded cleanup past the shutdown timeout is killed:
// its deferred functions run and Run returns.
func TestShutdownTimeoutKills(t *testing.T) {
	logs := &logBuffer{}
	l := New(WithShutdownTimeout(20*time.Millisecond), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	deferred := false
	var stuck *Task
	run(t, l, func(t *Task) error {
		stuck = l.Go("stuck", func(t *Task) error {
			defer func() { deferred = true }()
			return Shield(t, func(t *Task) error {
				var never WaitQueue
				return never.Wait(t)
			})
		})
		return t.Yield()
	})
	if !deferred || !errors.Is(stuck.Err(), ErrKilled) {
		t.Fatalf("deferred %v, err %v", deferred, stuck.Err())
	}
	if !strings.Contains(logs.String(), `shutdown timeout; killed" task=stuck`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// A task waiting, under a deadline, for an Offload's result is not timed
// out by a virtual clock jumping ahead while the goroutine still works: the
// result is a post the loop expects, counted in Stats.Offloads meanwhile.
func TestOffloadHoldsVirtualClockUnderDeadline(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		l.Go("sleeper", func(t *Task) error { return t.Sleep(time.Minute) })
		release := make(chan struct{})
		var during Stats
		l.Go("observer", func(t *Task) error {
			during = l.Stats() // the Offload below has started
			close(release)
			return nil
		})
		err := WaitFor(t, time.Second, func(t *Task) error {
			_, err := Offload(t, func(ctx context.Context) (struct{}, error) {
				<-release
				for !l.watch.idle.Load() { // until the loop waits with nothing to do and a timer due
					runtime.Gosched()
				}
				return struct{}{}, nil
			})
			return err
		})
		if err != nil || vc.Elapsed() != 0 || during.Offloads != 1 || l.Stats().Offloads != 0 {
			return fmt.Errorf("WaitFor = %v after %v of virtual time; Offloads %d during, %d after",
				err, vc.Elapsed(), during.Offloads, l.Stats().Offloads)
		}
		return nil
	})
}

// Cancelling Run's context — what SIGTERM does through signal.NotifyContext —
// cancels the tasks, but shielded cleanup that Offloads still completes: the
// call's context is not Run's. An Offload outside a Shield is interrupted
// (its task was cancelled) and its context cancelled. Run's context values
// reach both calls.
func TestRunContextCancelKeepsShieldedOffload(t *testing.T) {
	l, _, _ := virtualLoop()
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "node-1"))
	defer cancel()
	cleanupStarted, release := make(chan struct{}), make(chan struct{})
	var cleanup, plain error
	var value any
	err := l.Run(ctx, func(t *Task) error {
		g := NewGroup(t)
		g.Go("publisher", func(t *Task) error {
			err := t.Sleep(time.Hour)
			cleanup = Shield(t, func(t *Task) error {
				_, err := Offload(t, func(ctx context.Context) (struct{}, error) {
					value = ctx.Value(key{})
					close(cleanupStarted) // Run's context is cancelled by now
					select {
					case <-release:
						return struct{}{}, nil // "offline" published, outbox closed
					case <-ctx.Done():
						return struct{}{}, fmt.Errorf("cleanup's context: %w", ctx.Err())
					}
				})
				return err
			})
			return err
		})
		g.Go("reader", func(t *Task) error {
			_, err := Offload(t, func(ctx context.Context) (struct{}, error) {
				<-ctx.Done() // a read that only ends when interrupted
				return struct{}{}, ctx.Err()
			})
			plain = err
			return err
		})
		if err := t.Yield(); err != nil { // both children start
			return err
		}
		cancel() // SIGTERM
		go func() {
			<-cleanupStarted
			close(release)
		}()
		return g.Wait(t)
	})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("Run = %v, want ErrCancelled", err)
	}
	if cleanup != nil {
		t.Fatalf("shielded cleanup = %v, want it completed", cleanup)
	}
	if !errors.Is(plain, ErrCancelled) {
		t.Fatalf("unshielded Offload = %v, want ErrCancelled", plain)
	}
	if value != "node-1" {
		t.Fatalf("the Offload's context carries %v, want Run's value", value)
	}
}

// A WaitFor inside the Shield still bounds a shielded Offload: its context
// is cancelled when the scope expires, and Offload returns ErrTimeout. (Real
// clock: a virtual one stands still while the call is outstanding.)
func TestShieldedOffloadBoundedByWaitFor(t *testing.T) {
	l := New(WithLogger(slog.New(slog.DiscardHandler)))
	var sawCancel error
	run(t, l, func(t *Task) error {
		t.Cancel()
		err := Shield(t, func(t *Task) error {
			return WaitFor(t, time.Millisecond, func(t *Task) error {
				_, err := Offload(t, func(ctx context.Context) (int, error) {
					<-ctx.Done()
					sawCancel = ctx.Err()
					return 0, ctx.Err()
				})
				return err
			})
		})
		if !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("shielded, bounded Offload = %v, want ErrTimeout", err)
		}
		return nil
	})
	if !errors.Is(sawCancel, context.Canceled) {
		t.Fatalf("the call saw %v, want its context cancelled", sawCancel)
	}
}

// A shielded Offload still running when the shutdown timeout passes is
// killed with its task: its context is cancelled on the way out, so the
// call can stop, and Run returns.
func TestShutdownTimeoutCancelsKilledOffload(t *testing.T) {
	l := New(WithShutdownTimeout(20*time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
	cancelled := make(chan error, 1)
	var stuck *Task
	run(t, l, func(t *Task) error {
		stuck = l.Go("stuck", func(t *Task) error {
			return Shield(t, func(t *Task) error {
				_, err := Offload(t, func(ctx context.Context) (int, error) {
					<-ctx.Done()
					cancelled <- ctx.Err()
					return 0, ctx.Err()
				})
				return err
			})
		})
		return t.Yield() // the call starts; main returns, shutdown begins
	})
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the call's context ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the killed task's Offload context was never cancelled")
	}
	if !errors.Is(stuck.Err(), ErrKilled) {
		t.Fatalf("stuck task ended with %v, want ErrKilled", stuck.Err())
	}
}

// A task killed at shutdown whose deferred cleanup awaits again — parks in
// a WaitQueue — leaves the queue as it unwinds: a
// later WakeAll on that queue (here from another killed task's cleanup)
// must not find it there. It used to stay linked, finished, at the head of
// the queue, and WakeAll spun for ever on a task it could not wake.
func TestKilledTaskLeavesWaitQueue(t *testing.T) {
	l := New(WithShutdownTimeout(20*time.Millisecond), WithLogger(slog.New(slog.DiscardHandler)))
	var q WaitQueue
	woken := -1
	var first, second *Task
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(t, l, func(t *Task) error {
			var never WaitQueue
			first = l.Go("first", func(t *Task) error {
				defer func() {
					//loopvet:ok the task is being killed: this await only has to unwind
					_ = Shield(t, q.Wait)
				}()
				return Shield(t, never.Wait)
			})
			second = l.Go("second", func(t *Task) error {
				defer func() { woken = q.WakeAll() }()
				return Shield(t, never.Wait)
			})
			return t.Yield()
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: a killed task stayed in a wait queue")
	}
	if !errors.Is(first.Err(), ErrKilled) || !errors.Is(second.Err(), ErrKilled) {
		t.Fatalf("tasks ended with %v and %v, want ErrKilled", first.Err(), second.Err())
	}
	if woken != 0 || q.Len() != 0 {
		t.Fatalf("WakeAll woke %d, %d left in the queue; want 0 and 0", woken, q.Len())
	}
}
