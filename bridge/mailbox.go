package bridge

import "sync"

// mailbox is a FIFO from the loop (or any goroutine) to one worker
// goroutine: put never blocks, which is what the loop needs, and the worker
// takes everything queued in one go. It does not bound itself: its
// producers do (maxIOQueue, maxTryQueue; a task's Publish waits for its
// own message).
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

// removeFirst removes and returns the oldest queued item for which pred
// holds: how a bounded producer makes room.
func (m *mailbox[T]) removeFirst(pred func(*T) bool) (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.items {
		if pred(&m.items[i]) {
			v := m.items[i]
			m.items = append(m.items[:i], m.items[i+1:]...)
			return v, true
		}
	}
	var zero T
	return zero, false
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
