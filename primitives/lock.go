package primitives

import (
	"errors"

	"github.com/edgeagent/edgeagent/loop"
)

// Errors of Lock and Condition.
var (
	ErrNotHeld   = errors.New("primitives: lock not held by this task")
	ErrRecursive = errors.New("primitives: lock already held by this task")
)

// A Lock gives one task at a time access to a resource — a bus, a modem
// mid-exchange. Waiting tasks get it first come, first served, handed over
// directly on Release, so none can barge in. A waiter cancelled or timed
// out leaves the queue at once and never ends up holding the lock.
//
// The zero value is an unlocked lock. Prefer With, which releases even
// when the work fails.
type Lock struct {
	holder  *loop.Task
	waiters loop.WaitQueue
}

// Acquire waits until t holds the lock. It fails with the task's
// interruption — checked first, also when the lock is free — and t then
// does not hold the lock; or with ErrRecursive if t holds it already
// (waiting would deadlock).
func (l *Lock) Acquire(t *loop.Task) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	switch {
	case l.holder == t:
		return ErrRecursive
	case l.holder == nil && l.waiters.Len() == 0:
		l.holder = t
		return nil
	}
	// Release hands the lock over before waking us, so a successful wait
	// means we hold it — even if we were cancelled since (then the caller
	// releases it on the way out, and its next await fails).
	return l.waiters.Wait(t)
}

// TryAcquire takes the lock for t if it is free and nobody waits for it.
func (l *Lock) TryAcquire(t *loop.Task) bool {
	if l.holder != nil || l.waiters.Len() > 0 {
		return false
	}
	l.holder = t
	return true
}

// Release gives the lock up, handing it to the longest waiting task. Only
// the holder may release: anyone else gets ErrNotHeld.
func (l *Lock) Release(t *loop.Task) error {
	if l.holder != t || t == nil {
		return ErrNotHeld
	}
	l.release()
	return nil
}

func (l *Lock) release() { l.holder = l.waiters.WakeOne() }

// With runs fn holding the lock and releases it afterwards, whatever fn
// returns (the seed's `async with lock`).
func (l *Lock) With(t *loop.Task, fn loop.TaskFunc) error {
	if err := l.Acquire(t); err != nil {
		return err
	}
	defer l.release()
	return fn(t)
}

// Locked reports whether some task holds the lock.
func (l *Lock) Locked() bool { return l.holder != nil }

// Holder returns the task holding the lock, or nil.
func (l *Lock) Holder() *loop.Task { return l.holder }

// Waiting reports how many tasks wait for the lock.
func (l *Lock) Waiting() int { return l.waiters.Len() }
