package loop

import (
	"sync"
	"sync/atomic"
)

// inbox is the loop's one thread-safe entry: functions posted by other
// goroutines, run by the loop before its ordinary ready entries.
type inbox struct {
	mu     sync.Mutex
	q      []posted
	spare  []posted // the previous batch's slice, reused to avoid allocating
	closed bool
	n      atomic.Int32  // len(q), read by the loop without the lock
	wake   chan struct{} // wakes the idle loop; capacity 1
}

type posted struct {
	fn    func()
	at    int64  // real time of the Post, for the latency histogram
	inlet *Inlet // the inlet that admitted it (nil for Post): it holds one of its places
}

func (in *inbox) init() { in.wake = make(chan struct{}, 1) }

func (in *inbox) pending() bool { return in.n.Load() != 0 }

// Post hands fn to the loop, which runs it on its own goroutine as soon as
// it can — before the tasks that are ready — so fn may use everything on
// the loop: set an Event, put to a Queue, cancel a task. Posts from one
// goroutine run in the order they were made, Inlet posts included. Post is
// safe from any goroutine (the seed's interrupt handlers and fast_io). It
// never blocks; after the loop has stopped it returns ErrClosed and fn
// never runs. Posts made before Run wait for it.
//
// Post has no bound: it is for what must not be lost and cannot flood — a
// connection's end, a shutdown request, one report per event. A producer
// that can outrun the loop (messages, edges, bytes) posts through an Inlet.
func (l *Loop) Post(fn func()) error { return l.post(fn, nil) }

func (l *Loop) post(fn func(), from *Inlet) error {
	at := l.wallNow()
	in := &l.inbox
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return ErrClosed
	}
	in.q = append(in.q, posted{fn: fn, at: at, inlet: from})
	in.n.Store(int32(len(in.q)))
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
	return nil
}

func (in *inbox) take() []posted {
	in.mu.Lock()
	batch := in.q
	in.q = in.spare[:0]
	in.spare = nil
	in.n.Store(0)
	in.mu.Unlock()
	return batch
}

func (in *inbox) recycle(batch []posted) {
	clear(batch)
	in.mu.Lock()
	if in.spare == nil {
		in.spare = batch[:0]
	}
	in.mu.Unlock()
}

func (in *inbox) close() []posted {
	in.mu.Lock()
	in.closed = true
	batch := in.q
	in.q = nil
	in.n.Store(0)
	in.mu.Unlock()
	return batch
}

func (in *inbox) depth() int { return int(in.n.Load()) }

// drainInbox runs every function posted so far, in order.
func (l *Loop) drainInbox() {
	// Note who ran last before the posts do: a hog report among them names it.
	l.culpritBeat, l.culpritTask = l.watch.beat.Load(), l.lastTask
	batch := l.inbox.take()
	now := l.wallNow()
	for i := range batch {
		l.stats.postLatency.record(now - batch[i].at)
		l.runPosted(batch[i])
	}
	l.inbox.recycle(batch)
}

// runPosted runs a posted function, giving its inlet place back first.
func (l *Loop) runPosted(p posted) {
	if p.inlet != nil {
		p.inlet.queued.Add(-1)
	}
	l.callback(p.fn)
}
