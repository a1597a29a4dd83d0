package loop

import (
	"context"
	"runtime/debug"
)

// Offload runs a blocking call — a file sync, a DNS lookup, a slow bus
// transfer — on a goroutine of its own and awaits its result, so the loop
// goes on meanwhile. If t is cancelled or its WaitFor scope expires, Offload
// returns at once with that error and cancels ctx; the call's result is then
// dropped. A panic in fn becomes a *PanicError.
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
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	var (
		value T
		err   error
	)
	seq, name := t.parkSeq, t.name
	p := l.Promise()
	go func() {
		v, e := callOffloaded(ctx, name, fn)
		_ = p.Post(func() {
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
