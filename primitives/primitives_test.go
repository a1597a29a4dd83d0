package primitives

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// world is a loop on a virtual clock and a log of what happened when.
type world struct {
	l      *loop.Loop
	vc     *loop.VirtualClock
	events []string
}

func newWorld() *world {
	vc := loop.NewVirtualClock()
	return &world{vc: vc, l: loop.New(loop.WithClock(vc), loop.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))}
}

func (w *world) note(format string, args ...any) {
	w.events = append(w.events, fmt.Sprintf(format, args...)+"@"+w.vc.Elapsed().String())
}

func (w *world) run(t *testing.T, main loop.TaskFunc) {
	t.Helper()
	if err := w.l.Run(context.Background(), main); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func (w *world) want(t *testing.T, want ...string) {
	t.Helper()
	if got := strings.Join(w.events, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// The seed's event_test: three tasks take one lock for a second each, in
// the order they asked; an event set after five seconds reaches its waiter
// with its value.
func TestLockAndEventSeedScenario(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var lock Lock
		var ev Event[string]
		g := loop.NewGroup(t)
		g.Go("eventwait", func(t *loop.Task) error {
			w.note("waiting for event")
			v, err := ev.Wait(t)
			w.note("got event %q", v)
			return err
		})
		for i := 1; i <= 3; i++ {
			g.Go(fmt.Sprint("lock", i), func(t *loop.Task) error {
				w.note("lock%d waiting", i)
				return lock.With(t, func(t *loop.Task) error {
					w.note("lock%d acquired", i)
					if err := t.Sleep(time.Second); err != nil {
						return err
					}
					w.note("lock%d released", i)
					return nil
				})
			})
		}
		g.Go("eventset", func(t *loop.Task) error {
			if err := t.Sleep(5 * time.Second); err != nil {
				return err
			}
			ev.Set("ready")
			w.note("event was set")
			return nil
		})
		return g.Wait(t)
	})
	w.want(t, "waiting for event@0s",
		"lock1 waiting@0s", "lock1 acquired@0s", "lock2 waiting@0s", "lock3 waiting@0s",
		"lock1 released@1s", "lock2 acquired@1s", "lock2 released@2s", "lock3 acquired@2s",
		"lock3 released@3s", "event was set@5s", `got event "ready"@5s`)
}

// The seed's ack_test: each round sets an event with a value; both waiters
// get it, acknowledge, and the setter clears it for the next round.
func TestEventAckRounds(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var ev Event[int]
		var ack [2]Event[struct{}]
		g := loop.NewGroup(t)
		for n := range 2 {
			g.Go(fmt.Sprint("eventwait", n), func(t *loop.Task) error {
				for range 3 {
					v, err := ev.Wait(t)
					if err != nil {
						return err
					}
					w.note("eventwait%d got %d", n, v)
					ack[n].Set(struct{}{})
					for ev.IsSet() { // wait for the round to end
						if err := t.Sleep(10 * time.Millisecond); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
		for round := range 3 {
			ev.Set(round)
			for n := range ack {
				if _, err := ack[n].Wait(t); err != nil {
					return err
				}
				ack[n].Clear()
			}
			ev.Clear()
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
		}
		return g.Wait(t)
	})
	w.want(t, "eventwait0 got 0@0s", "eventwait1 got 0@0s", "eventwait0 got 1@1s", "eventwait1 got 1@1s",
		"eventwait0 got 2@2s", "eventwait1 got 2@2s")
}

// One Set reaches every waiter, with its value, even if the event is
// cleared before they run.
func TestEventFanOut(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var ev Event[float64]
		got := make([]float64, 100)
		g := loop.NewGroup(t)
		for i := range got {
			g.Go("", func(t *loop.Task) error {
				v, err := ev.Wait(t)
				got[i] = v
				return err
			})
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		if ev.Waiting() != 100 {
			return fmt.Errorf("%d waiting", ev.Waiting())
		}
		ev.Set(21.5)
		ev.Clear() // before any waiter ran
		if err := g.Wait(t); err != nil {
			return err
		}
		for i, v := range got {
			if v != 21.5 {
				return fmt.Errorf("waiter %d got %v", i, v)
			}
		}
		if ev.IsSet() || ev.Value() != 0 {
			return errors.New("Clear did not clear")
		}
		ev.Set(3)
		if v, err := ev.Wait(t); v != 3 || err != nil { // set: no waiting
			return fmt.Errorf("Wait on a set event = %v, %v", v, err)
		}
		return nil
	})
}

// The seed's barrier_test: three tasks meet five times; the callback runs
// once per round, when the last arrives.
func TestBarrierRounds(t *testing.T) {
	w := newWorld()
	var line []string
	w.run(t, func(t *loop.Task) error {
		b := NewBarrier(3, func() {
			line = append(line, "Synch")
			w.note("%s", strings.Join(line, " "))
			line = line[:0]
		})
		g := loop.NewGroup(t)
		for n := range 3 {
			g.Go(fmt.Sprint("party", n), func(t *loop.Task) error {
				for i := range 5 {
					line = append(line, fmt.Sprint(i))
					if err := t.Sleep(time.Duration(n) * 100 * time.Millisecond); err != nil {
						return err
					}
					if err := b.Wait(t); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return g.Wait(t)
	})
	w.want(t, "0 0 0 Synch@200ms", "1 1 1 Synch@400ms", "2 2 2 Synch@600ms", "3 3 3 Synch@800ms",
		"4 4 4 Synch@1s")
}

// A waiting party that times out withdraws its arrival: the others are
// not released short of a party.
func TestBarrierWithdrawOnTimeout(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		b := NewBarrier(3, nil)
		g := loop.NewGroup(t)
		g.Go("patient", func(t *loop.Task) error {
			err := b.Wait(t)
			w.note("patient through: %v", err)
			return err
		})
		g.Go("impatient", func(t *loop.Task) error {
			err := loop.WaitFor(t, time.Second, b.Wait)
			w.note("impatient: %v", err)
			return nil
		})
		g.Go("late", func(t *loop.Task) error {
			if err := t.Sleep(2 * time.Second); err != nil {
				return err
			}
			w.note("late arrives, %d waiting", b.Arrived())
			b.Trigger()
			w.note("busy %v", b.Busy())
			return nil
		})
		if err := t.Sleep(3 * time.Second); err != nil {
			return err
		}
		w.note("main arrives")
		if !b.Trigger() {
			return errors.New("third arrival did not complete the round")
		}
		return g.Wait(t)
	})
	w.want(t, "impatient: loop: timed out after 1s@1s", "late arrives, 1 waiting@2s", "busy true@2s",
		"main arrives@3s", "patient through: <nil>@3s")
}

// The seed's semaphore_test: five tasks share three permits; the limit is
// never exceeded and waiting tasks get permits in order as others release.
func TestSemaphoreLimit(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		s := NewSemaphore(3)
		inside, most := 0, 0
		g := loop.NewGroup(t)
		for n := range 5 {
			g.Go(fmt.Sprint("t", n), func(t *loop.Task) error {
				return s.With(t, func(t *loop.Task) error {
					inside++
					most = max(most, inside)
					w.note("t%d acquired", n)
					err := t.Sleep(time.Second + time.Duration(n)*100*time.Millisecond)
					inside--
					return err
				})
			})
		}
		if err := g.Wait(t); err != nil {
			return err
		}
		if most != 3 || s.Available() != 3 {
			return fmt.Errorf("at most %d inside, %d available after", most, s.Available())
		}
		return nil
	})
	w.want(t, "t0 acquired@0s", "t1 acquired@0s", "t2 acquired@0s", "t3 acquired@1s", "t4 acquired@1.1s")
}

func TestBoundedSemaphore(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		b := NewBoundedSemaphore(2)
		if err := b.Release(); !errors.Is(err, ErrOverRelease) {
			return fmt.Errorf("bounded over-release = %v", err)
		}
		if !b.TryAcquire() || b.Release() != nil || b.Available() != 2 {
			return errors.New("acquire/release round trip")
		}
		u := NewSemaphore(2)
		if err := u.Release(); err != nil || u.Available() != 3 {
			return fmt.Errorf("unbounded release = %v, %d available", err, u.Available())
		}
		z := NewBoundedSemaphore(0)
		if z.TryAcquire() || !errors.Is(z.Release(), ErrOverRelease) {
			return errors.New("a zero bounded semaphore has no permit to give or take back")
		}
		return nil
	})
}

// The seed's condition_test, FIFO: notify(2) wakes exactly two waiters,
// the longest waiting first; WaitFor waits for its predicate.
func TestConditionNotify(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		c := NewCondition(nil)
		tick := 0
		g := loop.NewGroup(t)
		for n := range 5 {
			g.Go(fmt.Sprint("waiter", n), func(t *loop.Task) error {
				return c.L.With(t, func(t *loop.Task) error {
					if err := c.Wait(t); err != nil {
						return err
					}
					w.note("waiter%d woke at tick %d", n, tick)
					return nil
				})
			})
		}
		g.Go("predicate", func(t *loop.Task) error {
			return c.L.With(t, func(t *loop.Task) error {
				err := c.WaitFor(t, func() bool { return tick >= 3 })
				w.note("predicate true at tick %d", tick)
				return err
			})
		})
		if err := t.Yield(); err != nil {
			return err
		}
		if n, err := c.Notify(1); n != 0 || !errors.Is(err, ErrNotHeld) {
			return fmt.Errorf("Notify without the lock = %d, %v", n, err)
		}
		for i := 1; i <= 3; i++ {
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			tick = i
			err := c.L.With(t, func(t *loop.Task) error {
				notify := func() (int, error) { return c.Notify(2) }
				if tick == 3 {
					notify = c.NotifyAll
				}
				woke, err := notify()
				if want := 2; woke != want { // tick 3: waiter4 and the predicate
					return fmt.Errorf("tick %d: woke %d, want %d", tick, woke, want)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		return g.Wait(t)
	})
	w.want(t, "waiter0 woke at tick 1@1s", "waiter1 woke at tick 1@1s",
		"waiter2 woke at tick 2@2s", "waiter3 woke at tick 2@2s",
		"waiter4 woke at tick 3@3s", "predicate true at tick 3@3s")
}

// A Wait cancelled still returns holding the lock.
func TestConditionWaitCancelledHoldsLock(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		c := NewCondition(nil)
		var heldAfter bool
		task := w.l.Go("waiter", func(t *loop.Task) error {
			if err := c.L.Acquire(t); err != nil {
				return err
			}
			err := c.Wait(t)
			heldAfter = c.L.Holder() == t
			return errors.Join(err, c.L.Release(t))
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		// Hold the lock while cancelling: the waiter must wait for it.
		if err := c.L.Acquire(t); err != nil {
			return err
		}
		task.Cancel()
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		if task.Done() {
			return errors.New("the cancelled waiter returned without the lock")
		}
		if err := c.L.Release(t); err != nil {
			return err
		}
		if err := task.Wait(t); !errors.Is(err, loop.ErrCancelled) || !heldAfter {
			return fmt.Errorf("waiter: %v, held after: %v", err, heldAfter)
		}
		if c.Wait(t) != ErrNotHeld {
			return errors.New("Wait without the lock must fail")
		}
		return nil
	})
}

func TestLockMisuseAndTimeout(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var lock Lock
		if err := lock.Release(t); !errors.Is(err, ErrNotHeld) {
			return fmt.Errorf("release of a free lock = %v", err)
		}
		if err := lock.Acquire(t); err != nil {
			return err
		}
		if err := lock.Acquire(t); !errors.Is(err, ErrRecursive) {
			return fmt.Errorf("recursive acquire = %v", err)
		}
		waiter := w.l.Go("waiter", func(t *loop.Task) error {
			return loop.WaitFor(t, time.Second, lock.Acquire)
		})
		other := w.l.Go("other", func(t *loop.Task) error { return lock.Release(t) })
		if err := other.Wait(t); !errors.Is(err, ErrNotHeld) {
			return fmt.Errorf("release by a non-holder = %v", err)
		}
		if err := waiter.Wait(t); !errors.Is(err, loop.ErrTimeout) {
			return fmt.Errorf("acquire under WaitFor = %v", err)
		}
		if lock.Waiting() != 0 {
			return errors.New("a timed-out waiter was left in the queue")
		}
		if err := lock.Release(t); err != nil || lock.Locked() {
			return fmt.Errorf("release: %v, still locked %v (a dead waiter got it?)", err, lock.Locked())
		}
		if !lock.TryAcquire(t) || lock.TryAcquire(t) {
			return errors.New("TryAcquire")
		}
		return lock.Release(t)
	})
}

// A producer faster than its consumer waits on a full queue; every item
// arrives once, in order, at the expected times.
func TestQueueProducerConsumer(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		q := NewQueue[int](2)
		g := loop.NewGroup(t)
		g.Go("producer", func(t *loop.Task) error {
			for i := range 5 {
				if err := q.Put(t, i); err != nil {
					return err
				}
				w.note("put %d", i)
			}
			q.Close()
			return nil
		})
		g.Go("consumer", func(t *loop.Task) error {
			for {
				if err := t.Sleep(time.Second); err != nil {
					return err
				}
				v, err := q.Get(t)
				if errors.Is(err, ErrClosed) {
					w.note("closed")
					return nil
				}
				if err != nil {
					return err
				}
				w.note("got %d", v)
			}
		})
		return g.Wait(t)
	})
	w.want(t, "put 0@0s", "put 1@0s", "got 0@1s", "put 2@1s", "got 1@2s", "put 3@2s",
		"got 2@3s", "put 4@3s", "got 3@4s", "got 4@5s", "closed@6s")
}

// A Get cancelled after an item was handed to it does not lose the item.
func TestQueueCancelledGetKeepsItem(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		q := NewQueue[string](0)
		var got string
		var next error
		consumer := w.l.Go("consumer", func(t *loop.Task) error {
			v, err := q.Get(t)
			got = v
			next = t.Sleep(time.Second)
			return err
		})
		if err := t.Yield(); err != nil {
			return err
		}
		if err := q.TryPut("command"); err != nil {
			return err
		}
		consumer.Cancel() // the item is already the consumer's
		if err := consumer.Wait(t); err != nil || got != "command" || !errors.Is(next, loop.ErrCancelled) {
			return fmt.Errorf("Get = %q, %v; next await %v", got, err, next)
		}
		if q.Len() != 0 {
			return fmt.Errorf("%d items left", q.Len())
		}
		// Cancelled before anything arrived: it leaves, the item stays.
		consumer = w.l.Go("consumer2", func(t *loop.Task) error { _, err := q.Get(t); return err })
		if err := t.Yield(); err != nil {
			return err
		}
		consumer.Cancel()
		if err := q.TryPut("later"); err != nil {
			return err
		}
		if v, err := q.TryGet(); v != "later" || err != nil {
			return fmt.Errorf("TryGet = %q, %v", v, err)
		}
		return ignore(consumer.Wait(t), loop.ErrCancelled)
	})
}

func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	return fmt.Errorf("got %v, want %v", err, want)
}

func TestQueueNonBlockingAndClose(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		q := NewQueue[int](2)
		if _, err := q.TryGet(); !errors.Is(err, ErrEmpty) {
			return fmt.Errorf("TryGet on empty = %v", err)
		}
		if q.TryPut(1) != nil || q.TryPut(2) != nil || !errors.Is(q.TryPut(3), ErrFull) {
			return errors.New("TryPut up to the bound")
		}
		if !q.Full() || q.Empty() || q.Len() != 2 || q.Cap() != 2 {
			return errors.New("Full/Empty/Len/Cap")
		}
		if d, ok, err := q.PutDropOldest(3); d != 1 || !ok || err != nil {
			return fmt.Errorf("PutDropOldest = %d, %v, %v", d, ok, err)
		}
		blocked := w.l.Go("blocked putter", func(t *loop.Task) error { return q.Put(t, 4) })
		if err := t.Yield(); err != nil {
			return err
		}
		q.Close()
		if err := blocked.Wait(t); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("putter woken by Close = %v", err)
		}
		for _, want := range []int{2, 3} {
			if v, err := q.Get(t); v != want || err != nil {
				return fmt.Errorf("drain after Close = %d, %v; want %d", v, err, want)
			}
		}
		if _, err := q.Get(t); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("Get on closed, drained queue = %v", err)
		}
		if !errors.Is(q.TryPut(5), ErrClosed) || !q.Closed() {
			return errors.New("TryPut after Close")
		}
		return nil
	})
}

// Triggered again and again, a Delay fires once: its duration after the
// last trigger.
func TestDelayRetrigger(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		d := NewDelay(w.l, time.Second, func() { w.note("expired") })
		for range 5 {
			d.Trigger(0)
			if err := t.Sleep(600 * time.Millisecond); err != nil {
				return err
			}
		}
		if !d.Running() {
			return errors.New("not running after the last trigger")
		}
		if dl, ok := d.Deadline(); !ok || dl.Sub(w.l.Now()) != 400*time.Millisecond {
			return fmt.Errorf("deadline in %v", dl.Sub(w.l.Now()))
		}
		if err := d.Wait(t); err != nil {
			return err
		}
		w.note("waited")
		d.Trigger(5 * time.Second)
		d.Trigger(100 * time.Millisecond) // brings the expiry forward
		if err := d.Wait(t); err != nil {
			return err
		}
		d.Trigger(0)
		d.Stop()
		if err := t.Sleep(2 * time.Second); err != nil {
			return err
		}
		if d.Running() {
			return errors.New("running after Stop")
		}
		d.Trigger(0)
		if err := t.Sleep(500 * time.Millisecond); err != nil {
			return err
		}
		d.SetDuration(700 * time.Millisecond) // 200 ms left now
		return d.Wait(t)
	})
	w.want(t, "expired@3.4s", "waited@3.4s", "expired@3.5s", "expired@6.2s")
}

func TestPollAndWaitChange(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		level := 0
		w.l.CallLater(250*time.Millisecond, func() { level = 1 })
		w.l.CallLater(720*time.Millisecond, func() { level = 0 })
		w.l.CallLater(730*time.Millisecond, func() { level = 1 }) // between two polls: unseen
		read := func() (int, error) { return level, nil }
		v, err := WaitChange(t, 100*time.Millisecond, read)
		w.note("changed to %d", v)
		if err != nil {
			return err
		}
		poller := w.l.Go("poll", func(t *loop.Task) error {
			return Poll(t, 100*time.Millisecond, read, func(v int) { w.note("poll saw %d", v) })
		})
		w.l.CallLater(time.Second, func() { level = 2 })
		if err := t.Sleep(2 * time.Second); err != nil {
			return err
		}
		poller.Cancel()
		if err := ignore(poller.Wait(t), loop.ErrCancelled); err != nil {
			return err
		}
		broken := errors.New("bus error")
		_, err = WaitChange(t, time.Second, func() (int, error) { return 0, broken })
		return ignore(err, broken)
	})
	w.want(t, "changed to 1@300ms", "poll saw 2@1.3s")
}

// Waiting tasks are served in order: an item or a slot freed for a waiter
// is promised to it, and nobody arriving later can take it first.
func TestQueueWaitersServedInOrder(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		q := NewQueue[string](1)
		var got string
		getter := w.l.Go("getter", func(t *loop.Task) error {
			v, err := q.Get(t)
			got = v
			return err
		})
		if err := t.Yield(); err != nil {
			return err
		}
		if err := q.TryPut("a"); err != nil {
			return err
		}
		if _, err := q.TryGet(); !errors.Is(err, ErrEmpty) {
			return fmt.Errorf("TryGet took the item promised to a waiting Get: %v", err)
		}
		if err := getter.Wait(t); err != nil || got != "a" {
			return fmt.Errorf("waiting Get = %q, %v", got, err)
		}

		if err := q.TryPut("full"); err != nil {
			return err
		}
		putter := w.l.Go("putter", func(t *loop.Task) error { return q.Put(t, "waited") })
		if err := t.Yield(); err != nil {
			return err
		}
		if v, err := q.TryGet(); v != "full" || err != nil {
			return fmt.Errorf("TryGet = %q, %v", v, err)
		}
		if err := q.TryPut("late"); !errors.Is(err, ErrFull) {
			return fmt.Errorf("TryPut took the slot promised to a waiting Put: %v", err)
		}
		if err := putter.Wait(t); err != nil {
			return err
		}
		if v, err := q.TryGet(); v != "waited" || err != nil {
			return fmt.Errorf("after the waiting Put: %q, %v", v, err)
		}
		return nil
	})
}

// WaitNext follows every change of a state, seeing the latest when several
// Sets happen while the follower is busy, even across Clear.
func TestEventWaitNext(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var state Event[string]
		follower := w.l.Go("follower", func(t *loop.Task) error {
			var seen uint64
			for {
				v, n, err := state.WaitNext(t, seen)
				if err != nil {
					return err
				}
				w.note("%s (set %d)", v, n)
				seen = n
				if err := t.Sleep(time.Second); err != nil { // a slow publisher
					return err
				}
			}
		})
		state.Set("on")
		if err := t.Sleep(100 * time.Millisecond); err != nil {
			return err
		}
		state.Set("off")
		state.Set("on")
		state.Clear()
		if err := t.Sleep(3 * time.Second); err != nil {
			return err
		}
		follower.Cancel()
		if state.Sets() != 3 {
			return fmt.Errorf("Sets = %d", state.Sets())
		}
		return ignore(follower.Wait(t), loop.ErrCancelled)
	})
	w.want(t, "on (set 1)@0s", "on (set 3)@1s")
}

// A Delay retriggered in the very pass its timer fired, before its
// callback ran, does not expire then.
func TestDelayRetriggeredAsItFires(t *testing.T) {
	w := newWorld()
	w.run(t, func(t *loop.Task) error {
		var d *Delay
		keeper := w.l.Go("keeper", func(t *loop.Task) error {
			if err := t.Sleep(time.Second); err != nil { // due with the delay, set first
				return err
			}
			d.Trigger(0)
			return nil
		})
		if err := t.Yield(); err != nil {
			return err
		}
		d = NewDelay(w.l, time.Second, func() { w.note("expired") })
		d.Trigger(0)
		return errors.Join(keeper.Wait(t), d.Wait(t))
	})
	w.want(t, "expired@2s")
}
