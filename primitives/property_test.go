package primitives

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"testing"

	"github.com/edgeagent/edgeagent/loop"
	"pgregory.net/rapid"
)

// op is one step of an actor's script in the property tests.
type op struct {
	kind    int           // what to do; meaning per test
	timeout time.Duration // > 0: under a WaitFor of this length
	pause   time.Duration // sleep before the step
}

func genScript(t *rapid.T, name string, kinds int) []op {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) op {
		o := op{kind: rapid.IntRange(0, kinds-1).Draw(t, "kind")}
		if rapid.Bool().Draw(t, "bounded") {
			o.timeout = time.Duration(rapid.IntRange(1, 5).Draw(t, "timeout")) * time.Millisecond
		}
		o.pause = time.Duration(rapid.IntRange(0, 3).Draw(t, "pause")) * time.Millisecond
		return o
	}), 1, 12).Draw(t, name)
}

// step runs one op's await under its timeout, if it has one.
func step(t *loop.Task, o op, fn loop.TaskFunc) error {
	if err := t.Sleep(o.pause); err != nil {
		return err
	}
	if o.timeout > 0 {
		return loop.WaitFor(t, o.timeout, fn)
	}
	return fn(t)
}

// cancellation cancels an actor at a time.
type cancellation struct {
	actor int
	at    time.Duration
}

// scenario is a property test's random cast: actors with scripts, and
// cancellations of some of them at some times.
type scenario struct {
	scripts [][]op
	cancels []cancellation
}

func genScenario(t *rapid.T, minActors, maxActors, kinds int) scenario {
	actors := rapid.IntRange(minActors, maxActors).Draw(t, "actors")
	s := scenario{scripts: make([][]op, actors)}
	for i := range s.scripts {
		s.scripts[i] = genScript(t, fmt.Sprint("script", i), kinds)
	}
	s.cancels = genCancels(t, actors)
	return s
}

// play runs one task per script on a fresh virtual loop, each op through
// act (under its pause and timeout), cancelling actors as drawn. An actor
// ends at its cancellation, goes on after a timeout, and fails the run on
// any other error. A script may wait forever (a Get nobody feeds): after a
// minute of virtual time the actors still waiting are cancelled.
func (s scenario) play(act func(t *loop.Task, o op) error) error {
	l := quietLoop()
	return l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		tasks := make([]*loop.Task, len(s.scripts))
		for i, script := range s.scripts {
			tasks[i] = g.Go(fmt.Sprint("actor", i), func(t *loop.Task) error {
				for _, o := range script {
					err := step(t, o, func(t *loop.Task) error { return act(t, o) })
					switch {
					case errors.Is(err, loop.ErrCancelled):
						return nil
					case err != nil && !errors.Is(err, loop.ErrTimeout):
						return err
					}
				}
				return nil
			})
		}
		for _, c := range s.cancels {
			l.CallLater(c.at, tasks[c.actor].Cancel)
		}
		return withoutTimeout(loop.WaitFor(t, time.Minute, g.Wait))
	})
}

// withoutTimeout drops the ErrTimeout of play's minute bound from a
// group's joined errors.
func withoutTimeout(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var rest []error
		for _, e := range j.Unwrap() {
			if !errors.Is(e, loop.ErrTimeout) {
				rest = append(rest, e)
			}
		}
		return errors.Join(rest...)
	}
	if errors.Is(err, loop.ErrTimeout) {
		return nil
	}
	return err
}

func genCancels(t *rapid.T, actors int) []cancellation {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) cancellation {
		return cancellation{
			actor: rapid.IntRange(0, actors-1).Draw(t, "actor"),
			at:    time.Duration(rapid.IntRange(0, 20).Draw(t, "at")) * time.Millisecond,
		}
	}), 0, 3).Draw(t, "cancels")
}

func quietLoop() *loop.Loop {
	return loop.New(loop.WithClock(loop.NewVirtualClock()),
		loop.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

// Random producers and consumers on a random-sized queue, with random
// timeouts and cancellations: every item put comes out exactly once, in
// the order it went in, and no waiter is left behind.
func TestQueueProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		q := NewQueue[int](rapid.IntRange(0, 3).Draw(rt, "maxsize"))
		var put, got []int
		next := 0
		// Kinds: 0, 1 Put; 2 Get; 3 TryGet, else TryPut.
		err := genScenario(rt, 2, 5, 4).play(func(t *loop.Task, o op) error {
			switch o.kind {
			case 0, 1:
				v := next
				next++
				if err := q.Put(t, v); err != nil {
					return err
				}
				put = append(put, v)
			case 2:
				v, err := q.Get(t)
				if err != nil {
					return err
				}
				got = append(got, v)
			case 3:
				if v, err := q.TryGet(); err == nil {
					got = append(got, v)
				} else if q.TryPut(next) == nil {
					put = append(put, next)
					next++
				}
			}
			return nil
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
		}
		for v, err := q.TryGet(); err == nil; v, err = q.TryGet() {
			got = append(got, v)
		}
		if !slices.Equal(put, got) {
			rt.Fatalf("items out %v, in %v: lost, duplicated or reordered", got, put)
		}
		if q.getters.Len() != 0 || q.putters.Len() != 0 || q.promisedItems != 0 || q.promisedSlots != 0 {
			rt.Fatalf("left behind: %d getters, %d putters, %d/%d promises",
				q.getters.Len(), q.putters.Len(), q.promisedItems, q.promisedSlots)
		}
	})
}

// Random tasks take a lock under random timeouts and cancellations: one
// holder at a time, granted in the order asked, and free at the end.
func TestLockProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var lock Lock
		inside, asked := 0, 0
		var grants []int
		// Kind: how many ms to hold the lock.
		err := genScenario(rt, 2, 6, 3).play(func(t *loop.Task, o op) error {
			ticket := asked
			asked++
			if err := lock.Acquire(t); err != nil {
				return err
			}
			grants = append(grants, ticket)
			if inside++; inside != 1 {
				return fmt.Errorf("%d tasks inside the lock", inside)
			}
			err := t.Sleep(time.Duration(o.kind) * time.Millisecond)
			inside--
			return errors.Join(err, lock.Release(t))
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
		}
		if lock.Locked() || lock.Waiting() != 0 {
			rt.Fatalf("lock left held by %v with %d waiting", lock.Holder(), lock.Waiting())
		}
		if !slices.IsSorted(grants) {
			rt.Fatalf("grants %v out of the order asked", grants)
		}
	})
}

// Random tasks share a semaphore: never more inside than permits, and all
// permits back at the end.
func TestSemaphoreProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		permits := rapid.IntRange(1, 3).Draw(rt, "permits")
		s := NewBoundedSemaphore(permits)
		inside := 0
		// Kind: how many ms to hold a permit.
		err := genScenario(rt, 2, 6, 3).play(func(t *loop.Task, o op) error {
			return s.With(t, func(t *loop.Task) error {
				if inside++; inside > permits {
					return fmt.Errorf("%d inside, %d permits", inside, permits)
				}
				err := t.Sleep(time.Duration(o.kind) * time.Millisecond)
				inside--
				return err
			})
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
		}
		if s.Available() != permits || s.Waiting() != 0 {
			rt.Fatalf("%d of %d permits back, %d waiting", s.Available(), permits, s.Waiting())
		}
	})
}
