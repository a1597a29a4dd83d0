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
// lock (else ErrNotHeld). An interruption pending on entry fails Wait at
// once, the lock never let go.
func (c *Condition) Wait(t *loop.Task) error {
	if c.L.holder != t {
		return ErrNotHeld
	}
	if err := t.Checkpoint(); err != nil {
		return err
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
// Notify, with the lock held. It returns the first error of Wait; like
// every await it is a checkpoint, also when pred holds at once.
func (c *Condition) WaitFor(t *loop.Task, pred func() bool) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	for !pred() {
		if err := c.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// Notify wakes up to n waiting tasks, longest waiting first, and reports
// how many it woke. The lock must be held (by the notifying task,
// normally), else it wakes none and returns ErrNotHeld.
func (c *Condition) Notify(n int) (int, error) {
	if !c.L.Locked() {
		return 0, ErrNotHeld
	}
	woke := 0
	for ; woke < n && c.waiters.WakeOne() != nil; woke++ {
	}
	return woke, nil
}

// NotifyAll wakes every waiting task and reports how many; the lock must
// be held (else ErrNotHeld).
func (c *Condition) NotifyAll() (int, error) {
	if !c.L.Locked() {
		return 0, ErrNotHeld
	}
	return c.waiters.WakeAll(), nil
}

// Waiting reports how many tasks wait on the condition.
func (c *Condition) Waiting() int { return c.waiters.Len() }
