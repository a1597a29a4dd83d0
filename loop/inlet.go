package loop

import (
	"fmt"
	"sync/atomic"
)

// An Inlet is a bounded way into the loop for one producer on another
// goroutine — an MQTT callback, a GPIO edge waiter, a serial reader —
// that could outrun a stalled loop (a hog, a slow disk) and grow its queue
// without bound. TryPost hands a function to the loop like Post, unless
// the inlet's limit of functions are already queued and not yet run: then
// it refuses at once with ErrInletFull and counts the drop. Memory held by
// an inlet is thus bounded by its limit, and every loss is counted.
//
// Posts through inlets and through Post share one queue and one order.
// Make one inlet per producer, so a flood from one cannot starve another.
type Inlet struct {
	l     *Loop
	name  string
	limit int64

	queued  atomic.Int64 // admitted, not yet run
	high    atomic.Int64 // the most ever queued at once
	posted  atomic.Uint64
	dropped atomic.Uint64
}

// InletStats is a snapshot of an inlet's counters.
type InletStats struct {
	Limit     int    // most functions queued at once
	Posted    uint64 // functions admitted by TryPost
	Dropped   uint64 // functions refused with ErrInletFull
	Queued    int    // admitted and not yet run
	MaxQueued int    // the most ever queued at once (high-water mark, ≤ Limit)
}

// NewInlet returns an inlet named name (for Stats and logs) that holds at
// most limit functions queued and not yet run. It is called before Run or
// on the loop. limit must be at least 1, and the name unique on the loop.
func (l *Loop) NewInlet(name string, limit int) *Inlet {
	if limit < 1 {
		panic(fmt.Sprintf("loop: NewInlet(%q, %d): the limit must be at least 1", name, limit))
	}
	for _, in := range l.inlets {
		if in.name == name {
			panic(fmt.Sprintf("loop: NewInlet: an inlet named %q exists already", name))
		}
	}
	in := &Inlet{l: l, name: name, limit: int64(limit)}
	l.inlets = append(l.inlets, in)
	return in
}

// TryPost hands fn to the loop, as Loop.Post does, if fewer than the
// inlet's limit of its functions are queued; otherwise fn is dropped, the
// drop counted, and TryPost returns ErrInletFull. After the loop has
// stopped it returns ErrClosed. It never blocks and is safe from any
// goroutine.
func (in *Inlet) TryPost(fn func()) error {
	for {
		n := in.queued.Load()
		if n >= in.limit {
			in.dropped.Add(1)
			return ErrInletFull
		}
		if in.queued.CompareAndSwap(n, n+1) {
			for h := in.high.Load(); n+1 > h && !in.high.CompareAndSwap(h, n+1); h = in.high.Load() {
			}
			break
		}
	}
	if err := in.l.post(fn, in); err != nil {
		in.queued.Add(-1)
		return err
	}
	in.posted.Add(1)
	return nil
}

// Name returns the inlet's name. It is safe from any goroutine.
func (in *Inlet) Name() string { return in.name }

// Stats returns the inlet's counters. It is safe from any goroutine.
func (in *Inlet) Stats() InletStats {
	return InletStats{
		Limit:     int(in.limit),
		Posted:    in.posted.Load(),
		Dropped:   in.dropped.Load(),
		Queued:    int(in.queued.Load()),
		MaxQueued: int(in.high.Load()),
	}
}
