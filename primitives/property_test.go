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

// cancels draws a few (actor, time) cancellations.
type cancellation struct {
	actor int
	at    time.Duration
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
	return loop.New(loop.WithClock(loop.NewVirtualClock(time.Time{})),
		loop.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

// Random producers and consumers on a random-sized queue, with random
// timeouts and cancellations: every item put comes out exactly once, in
// the order it went in, and no waiter is left behind.
func TestQueueProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		maxsize := rapid.IntRange(0, 3).Draw(rt, "maxsize")
		actors := rapid.IntRange(2, 5).Draw(rt, "actors")
		scripts := make([][]op, actors)
		for i := range scripts {
			scripts[i] = genScript(rt, fmt.Sprint("script", i), 4) // 0,1: Put  2: Get  3: TryGet/TryPut
		}
		cancels := genCancels(rt, actors)

		l := quietLoop()
		q := NewQueue[int](maxsize)
		var put, got []int
		next := 0
		err := l.Run(context.Background(), func(t *loop.Task) error {
			g := loop.NewGroup(t)
			tasks := make([]*loop.Task, actors)
			for i, script := range scripts {
				tasks[i] = g.Go(fmt.Sprint("actor", i), func(t *loop.Task) error {
					for _, o := range script {
						var err error
						switch o.kind {
						case 0, 1:
							v := next
							next++
							err = step(t, o, func(t *loop.Task) error { return q.Put(t, v) })
							if err == nil {
								put = append(put, v)
							}
						case 2:
							err = step(t, o, func(t *loop.Task) error {
								v, err := q.Get(t)
								if err == nil {
									got = append(got, v)
								}
								return err
							})
						case 3:
							if v, gerr := q.TryGet(); gerr == nil {
								got = append(got, v)
							} else if q.TryPut(next) == nil {
								put = append(put, next)
								next++
							}
						}
						if errors.Is(err, loop.ErrCancelled) {
							return err
						}
					}
					return nil
				})
			}
			for _, c := range cancels {
				l.CallLater(c.at, tasks[c.actor].Cancel)
			}
			// A script may wait forever (a Get nobody feeds): the deadline
			// cancels whatever still waits once everything else is done.
			if err := loop.WaitFor(t, time.Minute, g.Wait); err != nil && !errors.Is(err, loop.ErrTimeout) {
				return err
			}
			for v, err := q.TryGet(); err == nil; v, err = q.TryGet() {
				got = append(got, v)
			}
			return nil
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
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
		actors := rapid.IntRange(2, 6).Draw(rt, "actors")
		scripts := make([][]op, actors)
		for i := range scripts {
			scripts[i] = genScript(rt, fmt.Sprint("script", i), 3) // hold for kind ms
		}
		cancels := genCancels(rt, actors)

		l := quietLoop()
		var lock Lock
		inside, asked := 0, 0
		var grants, asks []int
		err := l.Run(context.Background(), func(t *loop.Task) error {
			g := loop.NewGroup(t)
			tasks := make([]*loop.Task, actors)
			for i, script := range scripts {
				tasks[i] = g.Go(fmt.Sprint("actor", i), func(t *loop.Task) error {
					for _, o := range script {
						ticket := -1
						err := step(t, o, func(t *loop.Task) error {
							ticket = asked
							asked++
							asks = append(asks, ticket)
							if err := lock.Acquire(t); err != nil {
								return err
							}
							grants = append(grants, ticket)
							inside++
							if inside != 1 {
								return fmt.Errorf("%d tasks inside the lock", inside)
							}
							err := t.Sleep(time.Duration(o.kind) * time.Millisecond)
							inside--
							return errors.Join(err, lock.Release(t))
						})
						if err != nil && !errors.Is(err, loop.ErrTimeout) && !errors.Is(err, loop.ErrCancelled) {
							return err
						}
						if errors.Is(err, loop.ErrCancelled) {
							return nil
						}
					}
					return nil
				})
			}
			for _, c := range cancels {
				l.CallLater(c.at, tasks[c.actor].Cancel)
			}
			return g.Wait(t)
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
		}
		if lock.Locked() || lock.Waiting() != 0 {
			rt.Fatalf("lock left held by %v with %d waiting", lock.Holder(), lock.Waiting())
		}
		// Grants follow the order of asking, among those granted.
		if !slices.IsSorted(grants) {
			rt.Fatalf("grants %v out of the order asked %v", grants, asks)
		}
	})
}

// Random tasks share a semaphore: never more inside than permits, and all
// permits back at the end.
func TestSemaphoreProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		permits := rapid.IntRange(1, 3).Draw(rt, "permits")
		actors := rapid.IntRange(2, 6).Draw(rt, "actors")
		scripts := make([][]op, actors)
		for i := range scripts {
			scripts[i] = genScript(rt, fmt.Sprint("script", i), 3)
		}
		cancels := genCancels(rt, actors)

		l := quietLoop()
		s := NewBoundedSemaphore(permits)
		inside := 0
		err := l.Run(context.Background(), func(t *loop.Task) error {
			g := loop.NewGroup(t)
			tasks := make([]*loop.Task, actors)
			for i, script := range scripts {
				tasks[i] = g.Go(fmt.Sprint("actor", i), func(t *loop.Task) error {
					for _, o := range script {
						err := step(t, o, func(t *loop.Task) error {
							return s.With(t, func(t *loop.Task) error {
								inside++
								if inside > permits {
									return fmt.Errorf("%d inside, %d permits", inside, permits)
								}
								err := t.Sleep(time.Duration(o.kind) * time.Millisecond)
								inside--
								return err
							})
						})
						if errors.Is(err, loop.ErrCancelled) {
							return nil
						}
						if err != nil && !errors.Is(err, loop.ErrTimeout) {
							return err
						}
					}
					return nil
				})
			}
			for _, c := range cancels {
				l.CallLater(c.at, tasks[c.actor].Cancel)
			}
			return g.Wait(t)
		})
		if err != nil {
			rt.Fatalf("Run: %v", err)
		}
		if s.Available() != permits || s.Waiting() != 0 {
			rt.Fatalf("%d of %d permits back, %d waiting", s.Available(), permits, s.Waiting())
		}
	})
}
