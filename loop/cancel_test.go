package loop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A task sleeping an hour is cancelled at once: its Sleep returns
// ErrCancelled in the same pass, with no virtual time passing (uasyncio V2
// delivered it only when the hour was up).
func TestCancelSleepingTaskAtOnce(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		sleeper := l.Go("sleeper", func(t *Task) error {
			err := t.Sleep(time.Hour)
			r.note(fmt.Sprint("sleeper: ", err))
			return err
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		sleeper.Cancel()
		if sleeper.Done() {
			return errors.New("done before it ran its cleanup")
		}
		if err := t.Yield(); err != nil {
			return err
		}
		if !sleeper.Done() {
			return errors.New("cancelled sleeper not done within one pass")
		}
		if err := sleeper.Wait(t); !errors.Is(err, ErrCancelled) {
			return fmt.Errorf("Wait = %v, want ErrCancelled", err)
		}
		if n := l.Stats().Timers; n != 0 {
			return fmt.Errorf("%d timers left: the sleep timer was not removed", n)
		}
		return nil
	})
	r.want(t, "sleeper: loop: task cancelled@1s")
}

// A task waiting in a WaitQueue leaves it the moment it is cancelled, so a
// waker never hands anything to a dead waiter.
func TestCancelWaitingTaskLeavesQueue(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var q WaitQueue
		a := l.Go("a", func(t *Task) error { return q.Wait(t) })
		b := l.Go("b", func(t *Task) error { return q.Wait(t) })
		if err := t.Yield(); err != nil {
			return err
		}
		if q.Len() != 2 || q.Front() != a {
			return fmt.Errorf("queue len %d front %v, want 2, a", q.Len(), q.Front())
		}
		a.Cancel()
		if q.Len() != 1 || q.Front() != b {
			return fmt.Errorf("after Cancel: len %d front %v, want 1, b", q.Len(), q.Front())
		}
		if woke := q.WakeOne(); woke != b {
			return fmt.Errorf("WakeOne woke %v, want b", woke)
		}
		if err := a.Wait(t); !errors.Is(err, ErrCancelled) {
			return fmt.Errorf("a: %v", err)
		}
		return b.Wait(t)
	})
}

// Woken, then cancelled before it ran: the wake wins, so whatever the waker
// handed over is not lost; the next await fails.
func TestWakeWinsOverLaterCancel(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var q WaitQueue
		var first, second error
		w := l.Go("w", func(t *Task) error {
			first = q.Wait(t)
			second = t.Sleep(time.Second)
			return nil
		})
		if err := t.Yield(); err != nil {
			return err
		}
		q.WakeOne()
		w.Cancel()
		if err := w.Wait(t); err != nil {
			return err
		}
		if first != nil || !errors.Is(second, ErrCancelled) {
			return fmt.Errorf("first await %v, second %v; want nil, ErrCancelled", first, second)
		}
		return nil
	})
}

// Once cancelled, every await fails at once: a task cannot miss it.
func TestCancellationIsSticky(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var errs []error
		task := l.Go("t", func(t *Task) error {
			errs = append(errs, t.Sleep(time.Hour))
			errs = append(errs, t.Sleep(time.Hour))
			errs = append(errs, t.Yield())
			var q WaitQueue
			errs = append(errs, q.Wait(t))
			errs = append(errs, WaitFor(t, time.Hour, func(t *Task) error { return t.Sleep(time.Minute) }))
			_, err := Offload(t, func(ctx context.Context) (int, error) { return 1, nil })
			errs = append(errs, err)
			return nil
		})
		if err := t.Yield(); err != nil {
			return err
		}
		task.Cancel()
		if err := task.Wait(t); err != nil {
			return err
		}
		for i, err := range errs {
			if !errors.Is(err, ErrCancelled) {
				return fmt.Errorf("await %d returned %v, want ErrCancelled", i, err)
			}
		}
		if len(errs) != 6 || vc.Elapsed() != 0 {
			return fmt.Errorf("%d awaits, %v elapsed", len(errs), vc.Elapsed())
		}
		return nil
	})
}

func TestCancelBeforeStartNeverRuns(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		ran := false
		task := l.Go("never", func(t *Task) error { ran = true; return nil })
		task.Cancel()
		if err := task.Wait(t); !errors.Is(err, ErrCancelled) || ran {
			return fmt.Errorf("Wait = %v, ran = %v", err, ran)
		}
		return nil
	})
}

// Shield lets cleanup await after cancellation; a WaitFor inside bounds it;
// after Shield the cancellation applies again.
func TestShieldCleanup(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		task := l.Go("publisher", func(t *Task) error {
			err := t.Sleep(time.Hour)
			r.note(fmt.Sprint("woke: ", err))
			serr := Shield(t, func(t *Task) error {
				if err := t.Sleep(100 * time.Millisecond); err != nil {
					return err
				}
				r.note("published offline")
				return WaitFor(t, 50*time.Millisecond, func(t *Task) error { return t.Sleep(time.Hour) })
			})
			r.note(fmt.Sprint("shield: ", serr))
			r.note(fmt.Sprint("after: ", t.Sleep(time.Second)))
			return err
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		task.Cancel()
		return ignore(task.Wait(t), ErrCancelled)
	})
	r.want(t, "woke: loop: task cancelled@1s", "published offline@1.1s",
		"shield: loop: timed out after 50ms@1.15s", "after: loop: task cancelled@1.15s")
}

func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	return fmt.Errorf("got %v, want %v", err, want)
}

func TestWaitForFinishesInTime(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		v, err := WaitForValue(t, time.Second, func(t *Task) (string, error) {
			return "read", t.Sleep(500 * time.Millisecond)
		})
		if v != "read" || err != nil || vc.Elapsed() != 500*time.Millisecond {
			return fmt.Errorf("WaitForValue = %q, %v at %v", v, err, vc.Elapsed())
		}
		if n := l.Stats().Timers; n != 0 {
			return fmt.Errorf("%d timers left: the deadline was not removed", n)
		}
		return t.Sleep(time.Second) // the expired deadline does not come back
	})
}

func TestWaitForInterruptsAtDeadline(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var q WaitQueue
		err := WaitFor(t, 2*time.Second, func(t *Task) error { return q.Wait(t) })
		if !errors.Is(err, ErrTimeout) || vc.Elapsed() != 2*time.Second || q.Len() != 0 {
			return fmt.Errorf("WaitFor = %v at %v, %d waiting", err, vc.Elapsed(), q.Len())
		}
		if err := WaitFor(t, 0, func(t *Task) error { return t.Yield() }); !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("zero deadline: %v", err)
		}
		return nil
	})
}

// Nested scopes, inner deadline first (outer 2 s, inner 1 s, around a 5 s
// sleep): the inner WaitFor times out with its own deadline, which
// OwnTimeout recognises, so the code retries; the retry is then cut by the
// outer deadline, which OwnTimeout does not count as the inner call's own,
// so the code gives up; outside, the outer deadline is the outer call's own.
func TestNestedTimeoutInnerFirst(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		err := WaitFor(t, 2*time.Second, func(t *Task) error {
			for {
				err := WaitFor(t, time.Second, func(t *Task) error { return t.Sleep(5 * time.Second) })
				r.note(fmt.Sprintf("inner: %v, own %v", err, OwnTimeout(err)))
				if !OwnTimeout(err) {
					return err
				}
			}
		})
		r.note(fmt.Sprintf("outer: %v, own %v", err, OwnTimeout(err)))
		if !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("outer = %v, want ErrTimeout", err)
		}
		return t.Sleep(time.Second) // the expired deadlines do not come back
	})
	r.want(t, "inner: loop: timed out after 1s, own true@1s",
		"inner: loop: timed out after 2s, own false@2s",
		"outer: loop: timed out after 2s, own true@2s")
}

// Nested scopes, outer deadline first (outer 2 s, inner 5 s, around a 10 s
// sleep): the inner await is interrupted at the outer deadline; the inner
// WaitFor returns the outer's timeout, which is not its own, and the outer
// scope stays expired (sticky) until it is left, where it is its own.
func TestNestedTimeoutOuterFirst(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		err := WaitFor(t, 2*time.Second, func(t *Task) error {
			err := WaitFor(t, 5*time.Second, func(t *Task) error { return t.Sleep(10 * time.Second) })
			r.note(fmt.Sprintf("inner: %v, own %v", err, OwnTimeout(err)))
			err = t.Sleep(time.Millisecond)
			r.note(fmt.Sprint("outer sleep: ", err))
			return err
		})
		r.note(fmt.Sprintf("outer: %v, own %v", err, OwnTimeout(err)))
		if !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("outer = %v", err)
		}
		return t.Sleep(time.Second)
	})
	r.want(t, "inner: loop: timed out after 2s, own false@2s",
		"outer sleep: loop: timed out after 2s@2s",
		"outer: loop: timed out after 2s, own true@2s")
}

// A function that swallows an interruption that is not its scope's own and
// returns nil does not hide it: WaitFor reports the cancellation (as
// wait_for re-raises it) or the enclosing deadline; a function that
// handles its own deadline and returns a fallback makes WaitFor return nil.
func TestWaitForReportsSwallowedInterruption(t *testing.T) {
	l, _, _ := virtualLoop()
	swallow := func(t *Task) error {
		_ = t.Sleep(time.Hour) //loopvet:ok the bug under test: an interruption swallowed
		return nil
	}
	run(t, l, func(t *Task) error {
		if err := WaitFor(t, time.Second, swallow); err != nil {
			return fmt.Errorf("own deadline handled: WaitFor = %v, want nil", err)
		}
		err := WaitFor(t, time.Second, func(t *Task) error { return WaitFor(t, time.Hour, swallow) })
		if !errors.Is(err, ErrTimeout) {
			return fmt.Errorf("the outer deadline swallowed inside: %v, want ErrTimeout", err)
		}
		var swallowed int
		task := l.Go("swallower", func(t *Task) error {
			var err error
			swallowed, err = WaitForValue(t, time.Hour, func(t *Task) (int, error) { return 7, swallow(t) })
			return err
		})
		if err := t.Yield(); err != nil {
			return err
		}
		task.Cancel()
		if err := task.Wait(t); !errors.Is(err, ErrCancelled) || swallowed != 7 {
			return fmt.Errorf("cancellation swallowed inside WaitForValue: %d, task ended with %v; want 7 with ErrCancelled",
				swallowed, err)
		}
		// Cancelled after its last await, fn's result stands: nothing was swallowed.
		var v int
		late := l.Go("late", func(t *Task) error {
			var err error
			v, err = WaitForValue(t, time.Hour, func(t *Task) (int, error) {
				t.Cancel()
				return 42, nil
			})
			return err
		})
		if err := late.Wait(t); err != nil || v != 42 {
			return fmt.Errorf("cancelled after its last await: %d, %v; want 42, nil", v, err)
		}
		return nil
	})
}

// Cancellation wins over an expired deadline.
func TestCancelWinsOverTimeout(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var got error
		task := l.Go("t", func(t *Task) error {
			return WaitFor(t, time.Second, func(t *Task) error {
				_ = t.Sleep(2 * time.Second) //loopvet:ok interrupted by the deadline: the test looks at the next await
				got = t.Yield()
				return got
			})
		})
		// This sleep's timer was set before the task's deadline, so at 1 s
		// main runs first: the task is ready (its deadline fired) but has
		// not run yet when it is cancelled.
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		task.Cancel()
		if err := task.Wait(t); !errors.Is(err, ErrCancelled) || !errors.Is(got, ErrCancelled) {
			return fmt.Errorf("task %v, await %v; want ErrCancelled", err, got)
		}
		return nil
	})
}

// A task that drops ErrCancelled and keeps awaiting slows down but cannot
// freeze the loop (each failing await still yields); it is reported, and
// killed at shutdown.
func TestTaskIgnoringCancellation(t *testing.T) {
	l, _, logs := virtualLoop()
	var stubborn *Task
	deferred := false
	run(t, l, func(t *Task) error {
		stubborn = l.Go("stubborn", func(t *Task) error {
			defer func() { deferred = true }()
			for {
				_ = t.Sleep(time.Second) //loopvet:ok the bug under test: a task ignoring cancellation
			}
		})
		if err := t.Sleep(1500 * time.Millisecond); err != nil {
			return err
		}
		stubborn.Cancel()
		// The loop still runs other work while the stubborn task spins
		// (virtual time stands still: something is always ready).
		for range 3 {
			if err := t.Yield(); err != nil {
				return err
			}
		}
		return nil
	})
	if !stubborn.Done() || !errors.Is(stubborn.Err(), ErrKilled) || !deferred {
		t.Fatalf("stubborn: done %v err %v deferred %v", stubborn.Done(), stubborn.Err(), deferred)
	}
	if n := logs.count("keeps awaiting after it was cancelled"); n != 1 {
		t.Fatalf("warning logged %d times, want once:\n%s", n, logs)
	}
}

// Checkpoint reports the pending interruption — after one trip through the
// loop, so a task ignoring it cannot freeze the others — and nil, without
// yielding, when there is none or a Shield holds it off.
func TestCheckpoint(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		ran := false
		l.Go("other", func(t *Task) error { ran = true; return nil })
		if err := t.Checkpoint(); err != nil || ran {
			return fmt.Errorf("uninterrupted: Checkpoint = %v, other ran %v; want nil without yielding", err, ran)
		}
		err := WaitFor(t, time.Second, func(t *Task) error {
			if err := t.Checkpoint(); err != nil {
				return fmt.Errorf("in a live scope: %v", err)
			}
			if err := t.Sleep(2 * time.Second); !errors.Is(err, ErrTimeout) {
				return fmt.Errorf("sleep past the deadline: %v", err)
			}
			return t.Checkpoint()
		})
		if !errors.Is(err, ErrTimeout) || vc.Elapsed() != time.Second {
			return fmt.Errorf("in an expired scope: Checkpoint = %v at %v, want ErrTimeout at 1s", err, vc.Elapsed())
		}
		var q WaitQueue
		var shielded, plain error
		var othersRan []bool
		task := l.Go("cancelled", func(t *Task) error {
			if err := q.Wait(t); err != nil { // woken, then cancelled: the wake wins
				return err
			}
			shielded = Shield(t, func(t *Task) error { return t.Checkpoint() })
			ran = false
			plain = t.Checkpoint()
			othersRan = append(othersRan, ran)
			return plain
		})
		if err := t.Yield(); err != nil { // the task parks in q
			return err
		}
		q.WakeOne()
		task.Cancel()
		l.Go("other", func(t *Task) error { ran = true; return nil })
		if err := task.Wait(t); !errors.Is(err, ErrCancelled) {
			return fmt.Errorf("task ended with %v", err)
		}
		if shielded != nil || !errors.Is(plain, ErrCancelled) || !othersRan[0] {
			return fmt.Errorf("cancelled: shielded Checkpoint %v, plain %v, went through the loop %v; want nil, ErrCancelled, true",
				shielded, plain, othersRan[0])
		}
		return nil
	})
}

// A task cancelled while it waits for its turn after Yield or Sleep(0) —
// MicroPython's cancel_fair — gets ErrCancelled from that await, not nil:
// nothing was handed over, so it does no extra round of work, and a task
// that then returns ends cancelled, not as if never cancelled.
func TestYieldReportsCancelWhileQueued(t *testing.T) {
	for _, name := range []string{"Yield", "Sleep(0)"} {
		t.Run(name, func(t *testing.T) {
			l, _, _ := virtualLoop()
			run(t, l, func(t *Task) error {
				rounds := 0
				spinner := l.Go("spinner", func(t *Task) error {
					for {
						rounds++
						var err error
						if name == "Yield" {
							err = t.Yield()
						} else {
							err = t.Sleep(0)
						}
						if err != nil {
							return err
						}
					}
				})
				if err := t.Yield(); err != nil { // the spinner runs once and queues behind us
					return err
				}
				spinner.Cancel()
				if err := spinner.Wait(t); !errors.Is(err, ErrCancelled) || rounds != 1 {
					return fmt.Errorf("spinner ended with %v after %d rounds; want ErrCancelled after 1", err, rounds)
				}
				return nil
			})
		})
	}
}

// A sleep that ended in the same pass as the task's cancellation, but
// before the task ran again, reports the cancellation: a sleep hands
// nothing over.
func TestSleepDoneThenCancelledReportsCancel(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var slept error
		sleeper := l.Go("sleeper", func(t *Task) error {
			slept = t.Sleep(time.Second) // its timer is set after main's
			return slept
		})
		if err := t.Sleep(time.Second); err != nil { // at 1 s main runs first; the sleeper is ready
			return err
		}
		sleeper.Cancel()
		if err := sleeper.Wait(t); !errors.Is(err, ErrCancelled) || !errors.Is(slept, ErrCancelled) {
			return fmt.Errorf("sleeper: Sleep = %v, ended %v; want ErrCancelled", slept, err)
		}
		return nil
	})
}
