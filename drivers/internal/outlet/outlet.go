// Package outlet is where every driver's events go: the user's callback,
// then the driver's own bounded queue and any queues subscribed since, each
// dropping its oldest event to make room, every loss counted. One shape for
// button gestures, contact changes, IR codes, sensor readings and modem
// URCs.
//
// It must not decide what an event is, nor block: Send runs on the loop
// from a driver's task or callback.
package outlet

import "github.com/edgeagent/edgeagent/primitives"

// An Outlet sends a driver's events of type E. It is used on the loop.
type Outlet[E any] struct {
	queue   *primitives.Queue[E]
	subs    []*primitives.Queue[E]
	notify  func(E)
	sent    uint64
	dropped uint64
}

// New returns an outlet whose own queue holds size events and which calls
// notify, if it is not nil, with each event first.
func New[E any](size int, notify func(E)) *Outlet[E] {
	return &Outlet[E]{queue: primitives.NewQueue[E](size), notify: notify}
}

// Send calls the callback with e, then queues it.
func (o *Outlet[E]) Send(e E) {
	o.Notify(e)
	o.Queue(e)
}

// Notify calls the callback with e, if there is one; it does not queue e.
func (o *Outlet[E]) Notify(e E) {
	if o.notify != nil {
		o.notify(e)
	}
}

// Queue puts e to the driver's queue and every subscribed one, dropping
// the oldest event of a full queue. Each event a queue drops counts as
// lost, and so does e for a queue that was closed. A closed subscriber is
// forgotten: closing is how a consumer unsubscribes.
func (o *Outlet[E]) Queue(e E) {
	o.sent++
	o.put(o.queue, e)
	kept := o.subs[:0]
	for _, q := range o.subs {
		if q.Closed() {
			continue
		}
		o.put(q, e)
		kept = append(kept, q)
	}
	clear(o.subs[len(kept):])
	o.subs = kept
}

func (o *Outlet[E]) put(q *primitives.Queue[E], e E) {
	if _, dropped, err := q.PutDropOldest(e); dropped || err != nil {
		o.dropped++
	}
}

// Events returns the driver's own queue.
func (o *Outlet[E]) Events() *primitives.Queue[E] { return o.queue }

// Subscribe returns a new queue of size events (at least 1) that gets
// every event queued from now on, beside the driver's own queue.
func (o *Outlet[E]) Subscribe(size int) *primitives.Queue[E] {
	q := primitives.NewQueue[E](max(size, 1))
	o.subs = append(o.subs, q)
	return q
}

// Sent reports how many events have been queued.
func (o *Outlet[E]) Sent() uint64 { return o.sent }

// Dropped reports how many events were lost, over all queues: dropped
// from a full queue, or put to a closed one.
func (o *Outlet[E]) Dropped() uint64 { return o.dropped }
