// Package ring provides Ring, the unbounded FIFO that the scheduler's run
// queue and the primitives' queues are built on. It is not safe for
// concurrent use: its users own it from one goroutine.
package ring

// A Ring is an unbounded first-in, first-out buffer that grows by doubling
// and never shrinks. The zero value is empty and ready to use.
type Ring[T any] struct {
	buf  []T // len is zero or a power of two
	head int
	n    int
}

// Len reports how many values the ring holds.
func (r *Ring[T]) Len() int { return r.n }

// Push appends v at the back.
func (r *Ring[T]) Push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// Pop removes and returns the front value. The ring must not be empty.
func (r *Ring[T]) Pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // let the garbage collector have it
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

// PushFront puts v at the front, to be popped next.
func (r *Ring[T]) PushFront(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1) & (len(r.buf) - 1)
	r.buf[r.head] = v
	r.n++
}

// Front returns the front value without removing it. The ring must not be
// empty.
func (r *Ring[T]) Front() T { return r.buf[r.head] }

// At returns the i-th value from the front, 0 ≤ i < Len.
func (r *Ring[T]) At(i int) T { return r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *Ring[T]) grow() {
	buf := make([]T, max(2*len(r.buf), 16))
	for i := range r.n {
		buf[i] = r.At(i)
	}
	r.buf, r.head = buf, 0
}
