package loop

import (
	"errors"
	"sync/atomic"
)

// ErrPromiseKept is returned by a Promise's second Post.
var ErrPromiseKept = errors.New("loop: promise already kept")

// A Promise is a Post the loop is told to expect from another goroutine.
// Until it is kept (Post) or dropped, a virtual clock does not move: a task
// waiting under a WaitFor for a goroutine's result is not timed out by a
// clock that jumped ahead while the goroutine was still working. At
// shutdown the loop waits for outstanding promises as it does for Offload,
// which is built on them.
type Promise struct {
	l    *Loop
	kept atomic.Bool
}

// Promise returns a promise of one Post. It is called on the loop, before
// the goroutine that will keep it starts.
func (l *Loop) Promise() *Promise {
	l.promised++
	return &Promise{l: l}
}

// Post keeps the promise: it posts fn (which may be nil) like Loop.Post.
// It is safe from any goroutine and may be called once; later calls return
// ErrPromiseKept. After the loop has stopped it returns ErrClosed.
func (p *Promise) Post(fn func()) error {
	if !p.kept.CompareAndSwap(false, true) {
		return ErrPromiseKept
	}
	return p.l.Post(func() {
		p.l.promised--
		if fn != nil {
			fn()
		}
	})
}

// Drop releases the promise without running anything, for a goroutine that
// has nothing to report after all. Dropping a kept promise does nothing.
func (p *Promise) Drop() { _ = p.Post(nil) }
