// Package inlet is the drivers' bounded way into the loop from their
// goroutines (GPIO edge watchers, serial readers): at most a set number
// of posted functions wait for the loop, and what does not fit is refused
// and counted, so a stalled loop cannot make a flooding device grow memory
// without bound.
//
// It stands in for loop.Inlet (issue 10) with the same shape, New(l, name,
// limit) and TryPost; once that lands, this package becomes an alias of it.
// It must not hold package-level state.
package inlet

import (
	"errors"
	"sync/atomic"

	"github.com/edgeagent/edgeagent/loop"
)

// ErrFull is returned by TryPost when the limit of waiting functions is
// reached; the function is not posted.
var ErrFull = errors.New("loop: inlet full")

// An Inlet posts functions to a loop, at most limit of them waiting at a
// time. It is safe from any goroutine.
type Inlet struct {
	l       *loop.Loop
	name    string
	limit   int64
	waiting atomic.Int64
	dropped atomic.Uint64
}

// New returns an inlet into l named name, letting at most limit posted
// functions (at least 1) wait for the loop.
func New(l *loop.Loop, name string, limit int) *Inlet {
	return &Inlet{l: l, name: name, limit: int64(max(limit, 1))}
}

// TryPost posts fn unless limit functions already wait, then it returns
// ErrFull and counts the refusal; after the loop has stopped it returns
// loop.ErrClosed.
func (in *Inlet) TryPost(fn func()) error {
	if in.waiting.Add(1) > in.limit {
		in.waiting.Add(-1)
		in.dropped.Add(1)
		return ErrFull
	}
	if err := in.l.Post(func() { in.waiting.Add(-1); fn() }); err != nil {
		in.waiting.Add(-1)
		return err
	}
	return nil
}

// Dropped reports how many posts were refused.
func (in *Inlet) Dropped() uint64 { return in.dropped.Load() }

// Name returns the inlet's name.
func (in *Inlet) Name() string { return in.name }
