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
	head, tail *Task
	n          int
}

// Wait parks t at the back of q until WakeOne or WakeAll readies it (nil),
// or t is cancelled or its WaitFor scope expires (ErrCancelled, ErrTimeout).
// A task woken and then cancelled before it ran still gets nil: what the
// waker handed it is not lost, and its next await fails.
func (q *WaitQueue) Wait(t *Task) error {
	if err := t.enter(); err != nil {
		return err
	}
	t.wqPrev = q.tail
	if q.tail != nil {
		q.tail.wqNext = t
	} else {
		q.head = t
	}
	q.tail = t
	q.n++
	t.wq = q
	return t.park()
}

// WakeOne readies the task that has waited longest and returns it, or nil
// if none waits. The task runs later in the current pass or the next; a
// primitive that hands it something (a lock, an item) records that first.
func (q *WaitQueue) WakeOne() *Task {
	t := q.head
	if t != nil {
		t.wake()
	}
	return t
}

// WakeAll readies every waiting task, in order, and reports how many.
func (q *WaitQueue) WakeAll() int {
	n := q.n
	for q.head != nil {
		q.head.wake()
	}
	return n
}

// Len reports how many tasks wait.
func (q *WaitQueue) Len() int { return q.n }

// Front returns the task that has waited longest, or nil.
func (q *WaitQueue) Front() *Task { return q.head }

func (q *WaitQueue) remove(t *Task) {
	if t.wqPrev != nil {
		t.wqPrev.wqNext = t.wqNext
	} else {
		q.head = t.wqNext
	}
	if t.wqNext != nil {
		t.wqNext.wqPrev = t.wqPrev
	} else {
		q.tail = t.wqPrev
	}
	t.wqPrev, t.wqNext, t.wq = nil, nil, nil
	q.n--
}
