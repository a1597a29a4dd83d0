package primitives

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// An awaitCase is one await of the loop or a primitive, set up in its fast
// state (it would not wait) or its blocking state (it would).
type awaitCase struct {
	name          string
	fast, blocks  bool // which states the await has
	clockStandsBy bool // an Offload: virtual time stands still while it waits, so no deadline fires
	// setup builds the await for the task actor (other stands for another
	// task, to hold a lock or a permit). It runs in actor's function
	// before any interruption and may await.
	setup func(actor, other *loop.Task, fast bool) (*awaitRun, error)
}

// An awaitRun is one prepared await.
type awaitRun struct {
	await func(t *loop.Task) error
	// handOver gives a blocked await what it waits for (an item, the lock),
	// synchronously; nil when the await has nothing handed to it.
	handOver func() error
	// check runs after the actor ended with the await's error err and
	// reports a value lost, taken twice or left stuck.
	check func(err error) error
}

// How and when the actor's await is interrupted.
type interruption struct {
	cancel, expire bool // Task.Cancel; an expired WaitFor scope
	during         bool // while the await waits (else: already pending when it starts)
	handedOver     bool // during: the await is handed its value, then cancelled before it runs
}

func (i interruption) String() string {
	s := map[[2]bool]string{{true, false}: "cancelled", {false, true}: "expired", {true, true}: "cancelled+expired"}[[2]bool{i.cancel, i.expire}]
	switch {
	case i.handedOver:
		return "handed over, then " + s
	case i.during:
		return s + " while waiting"
	}
	return s + " before"
}

// want is the error the interrupted await must fail with, nil if it must
// succeed.
func (i interruption) want() error {
	switch {
	case i.handedOver:
		return nil
	case i.cancel:
		return loop.ErrCancelled
	}
	return loop.ErrTimeout
}

// Every await of the loop and of every primitive is a checkpoint: in its
// fast state and in its blocking state, after a cancellation and inside an
// expired WaitFor scope, it fails with the right error — ErrCancelled, which
// wins over ErrTimeout — and takes, adds or keeps nothing. A value handed to
// a blocked await before the interruption is its (the wake wins) and is not
// lost. The cases cover every combination, not a sample.
func TestEveryAwaitIsACheckpoint(t *testing.T) {
	var modes []interruption
	for _, c := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		modes = append(modes, interruption{cancel: c[0], expire: c[1]})
	}
	modes = append(modes, interruption{cancel: true, during: true}, interruption{expire: true, during: true},
		interruption{cancel: true, during: true, handedOver: true})
	for _, c := range awaitCases() {
		for _, fast := range []bool{true, false} {
			if fast && !c.fast || !fast && !c.blocks {
				continue
			}
			for _, m := range modes {
				if m.during && fast || m.during && m.expire && c.clockStandsBy {
					continue // a fast await does not wait; a frozen clock fires no deadline
				}
				state := map[bool]string{true: "fast", false: "blocking"}[fast]
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, state, m), func(t *testing.T) {
					if err := playInterruption(c, fast, m); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// playInterruption runs one case on a fresh virtual loop and checks it.
func playInterruption(c awaitCase, fast bool, m interruption) error {
	l := quietLoop()
	var run *awaitRun
	var armed, handable bool
	var checkErr error
	err := l.Run(context.Background(), func(main *loop.Task) error {
		actor := l.Go("actor", func(t *loop.Task) error {
			var err error
			if run, err = c.setup(t, main, fast); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			await := run.await
			if m.expire {
				d := time.Duration(0) // already expired
				if m.during {
					d = time.Second
				}
				inner := await
				await = func(t *loop.Task) error { return loop.WaitFor(t, d, inner) }
			}
			if m.cancel && !m.during {
				t.Cancel()
			}
			armed = true // the await below parks in this run, if it waits
			return await(t)
		})
		for !armed {
			if err := main.Yield(); err != nil {
				return err
			}
		}
		switch {
		case m.handedOver:
			if run.handOver == nil {
				handable = false
				actor.Cancel()
				break
			}
			handable = true
			if err := run.handOver(); err != nil {
				return fmt.Errorf("hand-over: %w", err)
			}
			actor.Cancel()
		case m.during && m.cancel:
			actor.Cancel()
		case m.during && m.expire:
			if err := main.Sleep(2 * time.Second); err != nil {
				return err
			}
		}
		awaitErr := actor.Wait(main)
		checkErr = checkOutcome(run, m, handable, awaitErr)
		return nil
	})
	return errors.Join(err, checkErr)
}

func checkOutcome(run *awaitRun, m interruption, handable bool, err error) error {
	want := m.want()
	if m.handedOver && !handable {
		want = loop.ErrCancelled // nothing to hand over: the cancellation applies
	}
	switch {
	case want == nil && err != nil:
		return fmt.Errorf("await = %v, want success: the value was handed over before the cancellation", err)
	case want != nil && !errors.Is(err, want):
		return fmt.Errorf("await = %v, want %v", err, want)
	case want == loop.ErrTimeout && errors.Is(err, loop.ErrCancelled):
		return fmt.Errorf("await = %v, want only ErrTimeout", err)
	}
	if run.check != nil {
		if cerr := run.check(err); cerr != nil {
			return fmt.Errorf("after the await (%v): %w", err, cerr)
		}
	}
	return nil
}

var errTarget = errors.New("target's own error")

func awaitCases() []awaitCase {
	return []awaitCase{
		{name: "Task.Sleep", fast: true, blocks: true,
			setup: func(_, _ *loop.Task, fast bool) (*awaitRun, error) {
				d := time.Hour
				if fast {
					d = 0 // only yields
				}
				return &awaitRun{await: func(t *loop.Task) error { return t.Sleep(d) }}, nil
			}},
		{name: "Task.SleepUntil", fast: true, blocks: true,
			setup: func(actor, _ *loop.Task, fast bool) (*awaitRun, error) {
				at := actor.Loop().Now().Add(time.Hour)
				if fast {
					at = actor.Loop().Now().Add(-time.Second) // passed: only yields
				}
				return &awaitRun{await: func(t *loop.Task) error { return t.SleepUntil(at) }}, nil
			}},
		{name: "Task.Yield", fast: true,
			setup: func(_, _ *loop.Task, _ bool) (*awaitRun, error) {
				return &awaitRun{await: func(t *loop.Task) error { return t.Yield() }}, nil
			}},
		{name: "Task.Checkpoint", fast: true,
			setup: func(_, _ *loop.Task, _ bool) (*awaitRun, error) {
				return &awaitRun{await: func(t *loop.Task) error { return t.Checkpoint() }}, nil
			}},
		{name: "Task.Wait", fast: true, blocks: true, setup: taskWaitCase(false)},
		{name: "Future.Wait", fast: true, blocks: true, setup: taskWaitCase(true)},
		{name: "Group.Wait", fast: true, blocks: true, setup: groupCase(false)},
		{name: "Group.Stop", fast: true, blocks: true, setup: groupCase(true)},
		{name: "WaitQueue.Wait", blocks: true,
			setup: func(_, _ *loop.Task, _ bool) (*awaitRun, error) {
				var q loop.WaitQueue
				return &awaitRun{
					await:    q.Wait,
					handOver: func() error { q.WakeOne(); return nil },
					check: func(error) error {
						if q.Len() != 0 {
							return fmt.Errorf("%d left waiting", q.Len())
						}
						return nil
					},
				}, nil
			}},
		{name: "Offload", blocks: true, clockStandsBy: true,
			setup: func(_, _ *loop.Task, _ bool) (*awaitRun, error) {
				started := false
				return &awaitRun{
					await: func(t *loop.Task) error {
						_, err := loop.Offload(t, func(ctx context.Context) (int, error) {
							<-ctx.Done() // a call that ends only when interrupted
							return 0, ctx.Err()
						})
						started = true
						return err
					},
					check: func(err error) error {
						if !started {
							return errors.New("the await did not return")
						}
						return nil
					},
				}, nil
			}},
		{name: "Queue.Get", fast: true, blocks: true, setup: queueGetCase},
		{name: "Queue.Put", fast: true, blocks: true, setup: queuePutCase},
		{name: "Lock.Acquire", fast: true, blocks: true, setup: lockCase(false)},
		{name: "Lock.With", fast: true, blocks: true, setup: lockCase(true)},
		{name: "Semaphore.Acquire", fast: true, blocks: true, setup: semaphoreCase(false)},
		{name: "Semaphore.With", fast: true, blocks: true, setup: semaphoreCase(true)},
		{name: "Event.Wait", fast: true, blocks: true, setup: eventCase(false)},
		{name: "Event.WaitNext", fast: true, blocks: true, setup: eventCase(true)},
		{name: "Barrier.Wait", fast: true, blocks: true, setup: barrierCase},
		{name: "Condition.Wait", blocks: true, setup: conditionCase(false)},
		{name: "Condition.WaitFor", fast: true, blocks: true, setup: conditionCase(true)},
		{name: "Delay.Wait", blocks: true,
			setup: func(actor, _ *loop.Task, _ bool) (*awaitRun, error) {
				dl := NewDelay(actor.Loop(), time.Hour, nil)
				dl.Trigger(0)
				return &awaitRun{await: dl.Wait, check: func(error) error {
					if dl.expired.Len() != 0 {
						return errors.New("left waiting")
					}
					return nil
				}}, nil
			}},
		{name: "WaitChange", blocks: true,
			setup: func(_, _ *loop.Task, _ bool) (*awaitRun, error) {
				reads := 0
				return &awaitRun{await: func(t *loop.Task) error {
					_, err := WaitChange(t, time.Hour, func() (int, error) { reads++; return 0, nil })
					return err
				}}, nil
			}},
	}
}

// taskWaitCase waits for a target task: finished (fast) or running.
func taskWaitCase(future bool) func(actor, _ *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, _ *loop.Task, fast bool) (*awaitRun, error) {
		l := actor.Loop()
		body := func(t *loop.Task) (int, error) {
			if !fast {
				if err := t.Sleep(time.Hour); err != nil {
					return 0, err
				}
			}
			return 42, errTarget
		}
		f := loop.Spawn(l, "target", body)
		var got int
		await := func(t *loop.Task) error {
			if future {
				var err error
				got, err = f.Wait(t)
				return err
			}
			return f.Task().Wait(t)
		}
		if fast {
			for !f.Task().Done() {
				if err := actor.Yield(); err != nil {
					return nil, err
				}
			}
		}
		return &awaitRun{await: await, check: func(err error) error {
			target := f.Task()
			if fast {
				if !errors.Is(target.Err(), errTarget) {
					return fmt.Errorf("target's error %v lost", target.Err())
				}
				if future && got != 0 {
					return fmt.Errorf("interrupted Future.Wait returned the value %d", got)
				}
				return nil
			}
			if target.Done() || target.Cancelled() {
				return errors.New("the target was disturbed by its waiter's interruption")
			}
			target.Cancel()
			return nil
		}}, nil
	}
}

// groupCase waits for (or stops) a group with no children (fast) or one.
func groupCase(stop bool) func(actor, _ *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, _ *loop.Task, fast bool) (*awaitRun, error) {
		g := loop.NewGroup(actor)
		var child *loop.Task
		if !fast { // a child whose cleanup takes 2 s, past a 1 s deadline
			child = g.Go("child", func(t *loop.Task) error {
				err := t.Sleep(time.Hour)
				return errors.Join(err, loop.Shield(t, func(t *loop.Task) error { return t.Sleep(2 * time.Second) }))
			})
			if err := actor.Yield(); err != nil { // the child starts
				return nil, err
			}
		}
		await := g.Wait
		if stop {
			await = g.Stop
		}
		return &awaitRun{await: await, check: func(error) error {
			if g.Len() != 0 || child != nil && !errors.Is(child.Err(), loop.ErrCancelled) {
				return fmt.Errorf("%d children left; a child ended with %v", g.Len(), child.Err())
			}
			return nil
		}}, nil
	}
}

func queueGetCase(_, _ *loop.Task, fast bool) (*awaitRun, error) {
	q := NewQueue[int](1)
	if fast {
		if err := q.TryPut(7); err != nil {
			return nil, err
		}
	}
	got := -1
	return &awaitRun{
		await: func(t *loop.Task) error {
			v, err := q.Get(t)
			if err == nil {
				got = v
			}
			return err
		},
		handOver: func() error { return q.TryPut(7) },
		check: func(err error) error {
			if err == nil {
				if got != 7 || q.Len() != 0 {
					return fmt.Errorf("got %d, %d left", got, q.Len())
				}
				return nil
			}
			if got != -1 {
				return fmt.Errorf("an interrupted Get took %d", got)
			}
			if fast {
				if v, err := q.TryGet(); v != 7 || err != nil {
					return fmt.Errorf("the queued item is gone: %d, %v", v, err)
				}
			}
			if err := q.TryPut(8); err != nil {
				return fmt.Errorf("a new item cannot go in: %v", err)
			}
			if v, err := q.TryGet(); v != 8 || err != nil || q.promisedItems != 0 || q.getters.Len() != 0 {
				return fmt.Errorf("a new item went to the interrupted Get: %d, %v", v, err)
			}
			return nil
		},
	}, nil
}

func queuePutCase(_, _ *loop.Task, fast bool) (*awaitRun, error) {
	q := NewQueue[int](1)
	if !fast {
		if err := q.TryPut(1); err != nil {
			return nil, err
		}
	}
	return &awaitRun{
		await:    func(t *loop.Task) error { return q.Put(t, 9) },
		handOver: func() error { _, err := q.TryGet(); return err },
		check: func(err error) error {
			var items []int
			for v, err := q.TryGet(); err == nil; v, err = q.TryGet() {
				items = append(items, v)
			}
			want := map[bool][]int{true: nil, false: {1}}[fast]
			if err == nil {
				want = []int{9}
			}
			if fmt.Sprint(items) != fmt.Sprint(want) || q.promisedSlots != 0 || q.putters.Len() != 0 {
				return fmt.Errorf("queue held %v, want %v", items, want)
			}
			return nil
		},
	}, nil
}

func lockCase(with bool) func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
		var lock Lock
		if !fast && !lock.TryAcquire(other) {
			return nil, errors.New("lock busy")
		}
		entered := false
		await := lock.Acquire
		if with {
			await = func(t *loop.Task) error {
				return lock.With(t, func(*loop.Task) error { entered = true; return nil })
			}
		}
		return &awaitRun{
			await:    await,
			handOver: func() error { return lock.Release(other) },
			check: func(err error) error {
				switch {
				case lock.Waiting() != 0:
					return errors.New("a waiter left behind")
				case err == nil && with:
					if !entered || lock.Locked() {
						return fmt.Errorf("With: entered %v, still locked by %v", entered, lock.Holder())
					}
				case err == nil:
					if lock.Holder() != actor {
						return fmt.Errorf("handed over, but held by %v", lock.Holder())
					}
				case entered:
					return errors.New("an interrupted With ran its function")
				case fast && lock.Locked():
					return fmt.Errorf("an interrupted Acquire took the free lock (%v)", lock.Holder())
				case !fast && lock.Holder() != other:
					return fmt.Errorf("held by %v, want the holder from before", lock.Holder())
				}
				return nil
			},
		}, nil
	}
}

func semaphoreCase(with bool) func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
		s := NewBoundedSemaphore(1)
		if !fast && !s.TryAcquire() {
			return nil, errors.New("no permit")
		}
		entered := false
		await := s.Acquire
		if with {
			await = func(t *loop.Task) error {
				return s.With(t, func(*loop.Task) error { entered = true; return nil })
			}
		}
		return &awaitRun{
			await:    await,
			handOver: s.Release,
			check: func(err error) error {
				want := map[bool]int{true: 1, false: 0}[fast]
				switch {
				case err == nil && with:
					want = 1
				case err == nil:
					want = 0 // the actor holds the permit handed to it
				case entered:
					return errors.New("an interrupted With ran its function")
				}
				if s.Available() != want || s.Waiting() != 0 {
					return fmt.Errorf("%d permits free, %d waiting; want %d, 0", s.Available(), s.Waiting(), want)
				}
				return nil
			},
		}, nil
	}
}

func eventCase(next bool) func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
		var ev Event[int]
		var seen uint64
		if fast {
			ev.Set(5)
		} else {
			seen = ev.Sets()
		}
		got := -1
		return &awaitRun{
			await: func(t *loop.Task) error {
				var v int
				var err error
				if next {
					v, _, err = ev.WaitNext(t, seen)
				} else {
					v, err = ev.Wait(t)
				}
				if err == nil {
					got = v
				}
				return err
			},
			handOver: func() error { ev.Set(5); return nil },
			check: func(err error) error {
				switch {
				case ev.Waiting() != 0:
					return errors.New("a waiter left behind")
				case err == nil && got != 5:
					return fmt.Errorf("got %d, want 5", got)
				case err != nil && got != -1:
					return fmt.Errorf("an interrupted wait returned %d", got)
				case fast && (!ev.IsSet() || ev.Value() != 5):
					return errors.New("the event lost its value")
				}
				return nil
			},
		}, nil
	}
}

// barrierCase: two parties; in the fast state the other has arrived (a
// Trigger), so the actor's Wait would be the last arrival.
func barrierCase(_, _ *loop.Task, fast bool) (*awaitRun, error) {
	rounds := 0
	b := NewBarrier(2, func() { rounds++ })
	if fast {
		b.Trigger()
	}
	before := b.Arrived()
	return &awaitRun{
		await:    b.Wait,
		handOver: func() error { b.Trigger(); return nil },
		check: func(err error) error {
			switch {
			case err == nil && rounds != 1:
				return fmt.Errorf("released, but %d rounds", rounds)
			case err != nil && (rounds != 0 || b.Arrived() != before):
				return fmt.Errorf("an interrupted Wait counted: %d rounds, %d arrived, want 0, %d", rounds, b.Arrived(), before)
			case b.waiters.Len() != 0:
				return errors.New("a waiter left behind")
			}
			return nil
		},
	}, nil
}

// conditionCase: the actor holds the lock; WaitFor's predicate holds at
// once in the fast state.
func conditionCase(waitFor bool) func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
	return func(actor, other *loop.Task, fast bool) (*awaitRun, error) {
		c := NewCondition(nil)
		if !c.L.TryAcquire(actor) {
			return nil, errors.New("lock busy")
		}
		ready := fast
		await := c.Wait
		if waitFor {
			await = func(t *loop.Task) error { return c.WaitFor(t, func() bool { return ready }) }
		}
		return &awaitRun{
			await: await,
			handOver: func() error {
				ready = true
				c.L.TryAcquire(other)
				if n, err := c.Notify(1); n != 1 || err != nil {
					return fmt.Errorf("Notify = %d, %v", n, err)
				}
				return c.L.Release(other)
			},
			check: func(error) error {
				if c.L.Holder() != actor || c.Waiting() != 0 {
					return fmt.Errorf("lock held by %v (want the actor, as always after Wait), %d waiting", c.L.Holder(), c.Waiting())
				}
				return c.L.Release(actor)
			},
		}, nil
	}
}
