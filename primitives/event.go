package primitives

import "github.com/edgeagent/edgeagent/loop"

// An Event is a flag with a value that tasks wait for (the seed's Event,
// whose set(data) passed a value). Set wakes every waiting task; the event
// stays set — later Waits return at once — until Clear.
//
// The zero value is a clear event. Set and Clear are called on the loop:
// from tasks, callbacks, or a function another goroutine Posts.
type Event[T any] struct {
	set     bool
	value   T      // the value while set
	last    T      // the value of the latest Set, for waiters woken by it
	sets    uint64 // Sets so far, for WaitNext
	waiters loop.WaitQueue
}

// Set sets the event to v and wakes every waiting task. Each returns the
// value of the latest Set before it ran, even if the event has been
// cleared since: a Set is never missed, unlike the seed's polled flag.
func (e *Event[T]) Set(v T) {
	e.set, e.value, e.last = true, v, v
	e.sets++
	e.waiters.WakeAll()
}

// Clear clears the event and its value; tasks that Wait from now on wait
// for the next Set.
func (e *Event[T]) Clear() {
	var zero T
	e.set, e.value = false, zero
}

// IsSet reports whether the event is set.
func (e *Event[T]) IsSet() bool { return e.set }

// Value returns the event's value, the zero value while it is clear.
func (e *Event[T]) Value() T { return e.value }

// Waiting reports how many tasks wait for the event.
func (e *Event[T]) Waiting() int { return e.waiters.Len() }

// Sets reports how many times Set has been called: a version number for
// WaitNext.
func (e *Event[T]) Sets() uint64 { return e.sets }

// WaitNext waits until the event has been Set more than seen times and
// returns the latest value and the new count, whether or not the event was
// cleared since. A task that publishes every change of a state loops on it,
// passing back the count it got; if several Sets happen while it is busy,
// it sees the latest. It fails only with the task's interruption, checked
// first even when a newer Set is there.
func (e *Event[T]) WaitNext(t *loop.Task, seen uint64) (T, uint64, error) {
	if err := t.Checkpoint(); err != nil {
		var zero T
		return zero, seen, err
	}
	for e.sets <= seen {
		if err := e.waiters.Wait(t); err != nil {
			var zero T
			return zero, seen, err
		}
	}
	return e.last, e.sets, nil
}

// Wait returns the event's value at once if it is set, else waits for the
// next Set. It fails only with the task's interruption, checked first even
// when the event is set.
func (e *Event[T]) Wait(t *loop.Task) (T, error) {
	if err := t.Checkpoint(); err != nil {
		var zero T
		return zero, err
	}
	if e.set {
		return e.value, nil
	}
	if err := e.waiters.Wait(t); err != nil {
		var zero T
		return zero, err
	}
	return e.last, nil
}
