package primitives

import (
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// Poll reads a value every period and calls changed with each value that
// differs from the last one — the seed's PinCall and apoll pattern, for
// hardware that cannot interrupt. The first read is the reference and is
// not reported. Poll runs until the task is interrupted (returning that
// error) or read fails (returning read's error); run it as a task.
func Poll[T comparable](t *loop.Task, period time.Duration, read func() (T, error), changed func(T)) error {
	last, err := read()
	for err == nil {
		if last, err = nextChange(t, period, read, last); err == nil {
			changed(last)
		}
	}
	return err
}

// WaitChange reads a value every period and returns the first that differs
// from the value read on entry: an awaitable "pin changed".
func WaitChange[T comparable](t *loop.Task, period time.Duration, read func() (T, error)) (T, error) {
	first, err := read()
	if err != nil {
		return first, err
	}
	return nextChange(t, period, read, first)
}

// nextChange reads every period until the value differs from last.
func nextChange[T comparable](t *loop.Task, period time.Duration, read func() (T, error), last T) (T, error) {
	for {
		if err := t.Sleep(period); err != nil {
			return last, err
		}
		v, err := read()
		if err != nil || v != last {
			return v, err
		}
	}
}
