// Package cancel holds check 2's cases: awaits whose error is dropped, and
// the ways of handling it that must stay quiet.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

type reading struct{ celsius float64 }

func read(t *loop.Task) (reading, error) { return reading{}, nil }

func dropped(t *loop.Task, q *primitives.Queue[int], ev *primitives.Event, wq *loop.WaitQueue, g *loop.Group, other *loop.Task) {
	t.Sleep(time.Second)                                                  // want `error of await t.Sleep is dropped`
	t.Yield()                                                             // want `error of await t.Yield is dropped`
	t.Checkpoint()                                                        // want `error of await t.Checkpoint is dropped`
	t.SleepUntil(time.Time{})                                             // want `error of await t.SleepUntil is dropped`
	other.Wait(t)                                                         // want `error of await other.Wait is dropped`
	_ = t.Sleep(time.Second)                                              // want `error of await t.Sleep is assigned to _`
	(t.Sleep(time.Second))                                                // want `error of await t.Sleep is dropped`
	ev.Wait(t)                                                            // want `error of await ev.Wait is dropped`
	wq.Wait(t)                                                            // want `error of await wq.Wait is dropped`
	g.Wait(t)                                                             // want `error of await g.Wait is dropped`
	v, _ := q.Get(t)                                                      // want `error of await q.Get is assigned to _`
	_, _ = q.Get(t)                                                       // want `error of await q.Get is assigned to _`
	q.Put(t, v)                                                           // want `error of await q.Put is dropped`
	loop.WaitFor(t, time.Second, func(t *loop.Task) error { return nil }) // want `error of await loop.WaitFor is dropped`
	r, _ := loop.WaitForValue(t, time.Second, read)                       // want `error of await loop.WaitForValue is assigned to _`
	_ = r
	n, _ := loop.Offload(t, func(ctx context.Context) (int, error) { return 1, nil }) // want `error of await loop.Offload is assigned to _`
	_ = n
	loop.Offload[string](t, func(ctx context.Context) (string, error) { return "", nil }) // want `error of await loop.Offload\[string\] is dropped`
	loop.Shield(t, func(t *loop.Task) error { return nil })                               // want `error of await loop.Shield is dropped`
	read(t)                                                                               // want `error of await read is dropped`
	var fn loop.TaskFunc = func(*loop.Task) error { return nil }
	fn(t) // want `error of await fn is dropped`
	f := loop.Spawn(t.Loop(), "x", read)
	f.Wait(t)            // want `error of await f.Wait is dropped`
	var _ = t.Yield()    // want `error of await t.Yield is assigned to _`
	a, _ := 1, t.Yield() // want `error of await t.Yield is assigned to _`
	_ = a
}

func handled(t *loop.Task, q *primitives.Queue[int]) error {
	// Checked.
	if err := t.Sleep(time.Second); err != nil {
		return err
	}
	v, err := q.Get(t)
	if err != nil {
		return fmt.Errorf("reading queue: %w", err)
	}
	// Passed on, or kept for later.
	err = q.Put(t, v)
	errs := []error{err, t.Yield()}
	report(t.Yield())
	var res struct{ err error }
	res.err = t.Yield()
	_ = errors.Join(errs...)
	_ = res
	// Not awaits: no error, or the task's own result.
	t.Cancel()
	_ = t.Err()
	t.Err()
	_ = t.Name()
	_ = loop.NewGroup(t)
	// A method value is not a call.
	sleep := t.Sleep
	_ = sleep
	// Returned upward.
	if _, err := loop.WaitForValue(t, time.Second, read); err != nil {
		return err
	}
	return loop.WaitFor(t, time.Second, func(t *loop.Task) error {
		return t.Sleep(time.Second)
	})
}

func report(error) {}

// A call that is not an await: fmt.Println takes any, not a *loop.Task.
func notAwait(t *loop.Task) {
	fmt.Println(t)
	_ = fmt.Errorf("%v", t)
}
