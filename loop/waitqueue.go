package loop

// A WaitQueue is a FIFO of tasks waiting for something: the building block
// of awaitable types (the seed's awaitable classes, §4.1). A primitive keeps
// its state, parks tasks in a WaitQueue while they cannot proceed, and wakes
// them when they can. The zero value is an empty queue.
//
// Waiting allocates nothing: the queue links the tasks themselves. A task
// that is cancelled or times out leaves the queue at once, before its Wait
// returns, so wakers never see it.
type WaitQueue struct {
	waiters taskList // through links[inQueue], the zero which
}

// Wait parks t at the back of q until WakeOne or WakeAll readies it (nil),
// or t is cancelled or its WaitFor scope expires (ErrCancelled, ErrTimeout).
// A task woken and then cancelled before it ran still gets nil: what the
// waker handed it is not lost, and its next await fails.
func (q *WaitQueue) Wait(t *Task) error {
	if err := t.enter(); err != nil {
		return err
	}
	q.waiters.push(t)
	t.wq = q
	return t.park()
}

// WakeOne readies the task that has waited longest and returns it, or nil
// if none waits. The task runs later in the current pass or the next; a
// primitive that hands it something (a lock, an item) records that first.
func (q *WaitQueue) WakeOne() *Task {
	t := q.waiters.head
	if t != nil {
		t.wake()
	}
	return t
}

// WakeAll readies every waiting task, in order, and reports how many.
func (q *WaitQueue) WakeAll() int {
	n := q.waiters.n
	for q.waiters.head != nil {
		q.waiters.head.wake()
	}
	return n
}

// Len reports how many tasks wait.
func (q *WaitQueue) Len() int { return q.waiters.n }

// Front returns the task that has waited longest, or nil.
func (q *WaitQueue) Front() *Task { return q.waiters.head }

func (q *WaitQueue) remove(t *Task) {
	q.waiters.remove(t)
	t.wq = nil
}
