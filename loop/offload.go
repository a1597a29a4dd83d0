package loop

import (
	"context"
	"runtime/debug"
)

// Offload runs a blocking call — a file sync, a DNS lookup, a slow bus
// transfer — on a goroutine of its own and awaits its result, so the loop
// goes on meanwhile. A panic in fn becomes a *PanicError.
//
// ctx is cancelled when, and only when, this await of t is interrupted: t
// is cancelled or an enclosing WaitFor scope expires. Offload then returns
// at once with that error and the call's result is dropped. Inside Shield
// the call is not interrupted by cancellation, so shielded cleanup that
// offloads (a disk sync, a last publish) completes even while the loop
// shuts down; a WaitFor inside the Shield bounds it, and so does the
// loop's shutdown timeout (a task killed then cancels ctx on the way out).
// Cancelling Run's context does not cancel ctx by itself — it cancels the
// tasks — but ctx carries that context's values.
//
// The virtual clock does not move while an Offload is outstanding, so
// tests that use it stay deterministic. At shutdown the loop waits, up to
// its shutdown timeout, for outstanding calls to return.
func Offload[T any](t *Task, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := t.enter(); err != nil {
		return zero, err
	}
	l := t.loop
	ctx, cancel := context.WithCancel(l.ctx) // l.ctx has no cancellation of its own
	defer cancel()
	var (
		value T
		err   error
	)
	seq, name := t.parkSeq, t.name
	// The result is a Post the loop expects: until it comes, a virtual
	// clock stands still and shutdown waits for it.
	l.offloads++
	go func() {
		v, e := callOffloaded(ctx, name, fn)
		_ = l.Post(func() {
			l.offloads--
			value, err = v, e
			if t.parkSeq == seq {
				t.wake()
			}
		})
	}()
	if perr := t.park(); perr != nil {
		return zero, perr // the result, when it comes, is dropped
	}
	return value, err
}

func callOffloaded[T any](ctx context.Context, task string, fn func(context.Context) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Task: task, Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}
