package bridge

import "sync"

// mailbox is an unbounded FIFO from the loop (or any goroutine) to one
// worker goroutine: put never blocks, which is what the loop needs, and the
// worker takes everything queued in one go.
type mailbox[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	wake   chan struct{} // one pending signal at most
}

func newMailbox[T any]() *mailbox[T] {
	return &mailbox[T]{wake: make(chan struct{}, 1)}
}

// put queues v; it reports false once the mailbox is closed.
func (m *mailbox[T]) put(v T) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return true
}

// take waits for items and returns them all, reusing buf; ok is false when
// the mailbox is closed and empty.
func (m *mailbox[T]) take(buf []T) (items []T, ok bool) {
	for {
		m.mu.Lock()
		if len(m.items) > 0 {
			items, m.items = m.items, buf[:0]
			m.mu.Unlock()
			return items, true
		}
		if m.closed {
			m.mu.Unlock()
			return nil, false
		}
		m.mu.Unlock()
		<-m.wake
	}
}

// close stops further puts; take still returns what was queued.
func (m *mailbox[T]) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}
