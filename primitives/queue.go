package primitives

import (
	"errors"

	"github.com/edgeagent/edgeagent/internal/ring"
	"github.com/edgeagent/edgeagent/loop"
)

// Errors of Queue.
var (
	ErrFull   = errors.New("primitives: queue full")
	ErrEmpty  = errors.New("primitives: queue empty")
	ErrClosed = errors.New("primitives: queue closed")
)

// A Queue is a FIFO of values between tasks (uasyncio's Queue): Put waits
// while the queue is full, Get while it is empty, each side served in the
// order it arrived. Waiting costs nothing while it lasts: no polling, as
// the seed's 100 ms loops did.
//
// Every Put and Get is a checkpoint: a task that is cancelled, or whose
// WaitFor scope expired, fails there even when it would not have to wait,
// and takes or adds nothing. But an item handed to a waiting Get is that
// Get's, even if its task is interrupted before it runs: Get returns it,
// and the next await fails. So a cancelled consumer never loses an item.
//
// Close ends the queue: Put fails with ErrClosed, Get returns the items
// left and then ErrClosed, so consumers can end cleanly.
//
// A Queue belongs to one loop; other goroutines reach it through Post.
type Queue[T any] struct {
	items   ring.Ring[T]
	max     int
	closed  bool
	getters loop.WaitQueue
	putters loop.WaitQueue
	// Items promised to getters that were woken but have not run yet, and
	// free slots promised to woken putters: they are not anyone else's.
	promisedItems int
	promisedSlots int
}

// NewQueue returns a queue holding at most maxsize items; maxsize ≤ 0
// means unbounded.
func NewQueue[T any](maxsize int) *Queue[T] {
	return &Queue[T]{max: max(maxsize, 0)}
}

// Put appends v, waiting while the queue is full. It fails with the
// task's interruption (checked first, also when there is room), or with
// ErrClosed once the queue is closed; v is then not in the queue.
func (q *Queue[T]) Put(t *loop.Task, v T) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	if q.closed {
		return ErrClosed
	}
	if q.putters.Len() == 0 && !q.Full() {
		q.push(v)
		return nil
	}
	for {
		if err := q.putters.Wait(t); err != nil {
			return err
		}
		if q.promisedSlots > 0 {
			q.promisedSlots--
			q.push(v)
			return nil
		}
		if q.closed {
			return ErrClosed
		}
	}
}

// Get removes and returns the oldest item, waiting while the queue is
// empty. It fails with the task's interruption (checked first, also when
// an item is there — which then stays for the next Get), or with ErrClosed
// once the queue is closed and drained.
func (q *Queue[T]) Get(t *loop.Task) (T, error) {
	if err := t.Checkpoint(); err != nil {
		var zero T
		return zero, err
	}
	for {
		if q.available() > 0 {
			return q.take(), nil
		}
		if q.closed {
			var zero T
			return zero, ErrClosed
		}
		if err := q.getters.Wait(t); err != nil {
			var zero T
			return zero, err
		}
		if q.promisedItems > 0 {
			q.promisedItems--
			return q.take(), nil
		}
	}
}

// TryPut appends v if there is room now, else returns ErrFull (or
// ErrClosed). It never waits, so callbacks and posted functions may use it.
func (q *Queue[T]) TryPut(v T) error {
	switch {
	case q.closed:
		return ErrClosed
	case q.putters.Len() > 0 || q.Full():
		return ErrFull
	}
	q.push(v)
	return nil
}

// TryGet removes and returns the oldest item if there is one for the
// taking now, else returns ErrEmpty (or ErrClosed once closed and drained).
func (q *Queue[T]) TryGet() (T, error) {
	if q.available() > 0 {
		return q.take(), nil
	}
	var zero T
	if q.closed {
		return zero, ErrClosed
	}
	return zero, ErrEmpty
}

// PutDropOldest appends v, making room by dropping the oldest item if the
// queue is full; it returns what it dropped. It is the overflow policy of
// a consumer that wants the latest values (sensor readings, say). It fails
// with ErrFull only when every item is already promised to a woken Get,
// and with ErrClosed on a closed queue.
func (q *Queue[T]) PutDropOldest(v T) (dropped T, didDrop bool, err error) {
	if q.closed {
		return dropped, false, ErrClosed
	}
	if q.putters.Len() > 0 || q.Full() {
		if q.available() == 0 {
			return dropped, false, ErrFull
		}
		// The oldest item not promised: promised items sit at the front.
		dropped = q.removeAt(q.promisedItems)
		didDrop = true
	}
	q.push(v)
	return dropped, didDrop, nil
}

// Close closes the queue and wakes every waiting task. Items already in it
// can still be taken. Closing twice does nothing.
func (q *Queue[T]) Close() {
	if q.closed {
		return
	}
	q.closed = true
	q.getters.WakeAll()
	q.putters.WakeAll()
}

// Closed reports whether Close has been called.
func (q *Queue[T]) Closed() bool { return q.closed }

// Len reports how many items the queue holds.
func (q *Queue[T]) Len() int { return q.items.Len() }

// Cap reports the queue's bound, 0 for unbounded.
func (q *Queue[T]) Cap() int { return q.max }

// Empty reports whether the queue holds no items.
func (q *Queue[T]) Empty() bool { return q.items.Len() == 0 }

// Full reports whether a Put would have to wait; always false when
// unbounded.
func (q *Queue[T]) Full() bool {
	return q.max > 0 && q.items.Len()+q.promisedSlots >= q.max
}

// available counts the items nobody has been promised.
func (q *Queue[T]) available() int { return q.items.Len() - q.promisedItems }

// push appends v and, if a Get waits, promises it the front item.
func (q *Queue[T]) push(v T) {
	q.items.Push(v)
	if q.getters.Len() > 0 {
		q.promisedItems++
		q.getters.WakeOne()
	}
}

// take removes the front item and, if a Put waits for room, promises it
// the slot.
func (q *Queue[T]) take() T {
	v := q.items.Pop()
	if q.putters.Len() > 0 && q.max > 0 && !q.Full() {
		q.promisedSlots++
		q.putters.WakeOne()
	}
	return v
}

// removeAt removes the i-th item from the front, keeping the others' order.
func (q *Queue[T]) removeAt(i int) T {
	front := make([]T, i)
	for k := range front {
		front[k] = q.items.Pop()
	}
	v := q.items.Pop()
	for k := len(front) - 1; k >= 0; k-- {
		q.items.PushFront(front[k])
	}
	return v
}
