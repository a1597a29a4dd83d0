package primitives

import (
	"errors"

	"github.com/edgeagent/edgeagent/loop"
)

// A Condition lets tasks holding a Lock wait until another task changes
// the state the lock guards and notifies them (the seed's Condition).
// Waiters are woken first come, first served.
type Condition struct {
	L       *Lock
	waiters loop.WaitQueue
}

// NewCondition returns a condition on l, or on a new lock if l is nil.
func NewCondition(l *Lock) *Condition {
	if l == nil {
		l = &Lock{}
	}
	return &Condition{L: l}
}

// Wait releases the lock, waits for a Notify, and takes the lock back
// before returning — also when it fails with the task's interruption, so
// the caller always holds the lock afterwards. The caller must hold the
// lock (else ErrNotHeld).
func (c *Condition) Wait(t *loop.Task) error {
	if c.L.holder != t {
		return ErrNotHeld
	}
	c.L.release()
	err := c.waiters.Wait(t)
	// Take the lock back even if cancelled: the caller's unlock expects it.
	if aerr := loop.Shield(t, c.L.Acquire); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// WaitFor waits until pred reports true, checking it first and after each
// Notify, with the lock held. It returns the first error of Wait.
func (c *Condition) WaitFor(t *loop.Task, pred func() bool) error {
	for !pred() {
		if err := c.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// Notify wakes up to n waiting tasks, longest waiting first. The lock must
// be held (by the notifying task, normally), else ErrNotHeld.
func (c *Condition) Notify(n int) error {
	if !c.L.Locked() {
		return ErrNotHeld
	}
	for ; n > 0 && c.waiters.WakeOne() != nil; n-- {
	}
	return nil
}

// NotifyAll wakes every waiting task; the lock must be held.
func (c *Condition) NotifyAll() error {
	if !c.L.Locked() {
		return ErrNotHeld
	}
	c.waiters.WakeAll()
	return nil
}

// Waiting reports how many tasks wait on the condition.
func (c *Condition) Waiting() int { return c.waiters.Len() }
