package inlet

import (
	"errors"
	"sync"
)

// A Batch is how a driver's goroutine hands what it reads — edges, bytes —
// to the loop without flooding it: items gather in a batch, and one drain
// is posted through the inlet when the batch turns non-empty and none is
// waiting; the drain takes everything gathered by the time it runs. A
// burst therefore costs one post, and a stalled loop holds one post and
// the batch, whose size the goroutine bounds, counting what it drops.
//
// Add and Retry are called by one goroutine; the drain runs on the loop.
type Batch[T any] struct {
	in      *Inlet
	drain   func(items []T, lost uint64)
	drainFn func() // made once: a method value allocates

	mu     sync.Mutex
	items  []T
	lost   uint64 // dropped since the last drain
	total  uint64 // dropped in all
	posted bool   // a drain waits for the loop

	spare []T // loop side: the last batch's buffer, reused
}

// NewBatch returns a batch posting through in; drain is called on the
// loop with the items gathered and the count of those dropped after them.
// The items slice is reused once drain returns.
func NewBatch[T any](in *Inlet, drain func(items []T, lost uint64)) *Batch[T] {
	b := &Batch[T]{in: in, drain: drain}
	b.drainFn = b.run
	return b
}

// Add lets add change the batch — append to it, or count items dropped
// for want of room — under the batch's lock, and posts a drain unless one
// waits. It reports false once the loop has stopped.
func (b *Batch[T]) Add(add func(items []T, lost uint64) ([]T, uint64)) bool {
	b.mu.Lock()
	before := b.lost
	b.items, b.lost = add(b.items, b.lost)
	b.total += b.lost - before
	post := !b.posted
	b.posted = true
	b.mu.Unlock()
	if !post {
		return true
	}
	return b.post()
}

// Retry posts a drain for a batch that a full inlet left waiting (a drain
// of the driver's previous run still held its place); call it when the
// goroutine would otherwise wait, at a read's timeout. It reports false
// once the loop has stopped.
func (b *Batch[T]) Retry() bool {
	b.mu.Lock()
	post := (len(b.items) > 0 || b.lost > 0) && !b.posted
	b.posted = b.posted || post
	b.mu.Unlock()
	if !post {
		return true
	}
	return b.post()
}

// Dropped reports how many items were dropped in all.
func (b *Batch[T]) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

func (b *Batch[T]) post() bool {
	switch err := b.in.TryPost(b.drainFn); {
	case err == nil:
		return true
	case errors.Is(err, ErrFull):
		b.mu.Lock()
		b.posted = false
		b.mu.Unlock()
		return true
	default:
		return false
	}
}

// run is the drain, on the loop.
func (b *Batch[T]) run() {
	b.mu.Lock()
	items, lost := b.items, b.lost
	b.items, b.lost, b.posted = b.spare[:0], 0, false
	b.mu.Unlock()
	b.drain(items, lost)
	clear(items)
	b.spare = items[:0]
}
