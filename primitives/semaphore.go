package primitives

import (
	"errors"

	"github.com/edgeagent/edgeagent/loop"
)

// ErrOverRelease is returned by a bounded semaphore's Release when it
// would exceed its initial value (the seed's ValueError).
var ErrOverRelease = errors.New("primitives: semaphore released more times than acquired")

// A Semaphore limits how many tasks use a resource at once. Acquire takes
// a permit, waiting first come, first served when none is left; Release
// returns one, handing it straight to the longest waiting task.
type Semaphore struct {
	permits int
	bounded bool
	bound   int
	waiters loop.WaitQueue
}

// NewSemaphore returns a semaphore with n permits; Release may raise the
// count past n.
func NewSemaphore(n int) *Semaphore { return &Semaphore{permits: max(n, 0)} }

// NewBoundedSemaphore returns a semaphore with n permits whose Release
// fails with ErrOverRelease instead of going past n, catching a release
// without an acquire.
func NewBoundedSemaphore(n int) *Semaphore {
	n = max(n, 0)
	return &Semaphore{permits: n, bounded: true, bound: n}
}

// Acquire waits for a permit. It fails only with the task's interruption
// — checked first, also when a permit is free — and then holds no permit.
func (s *Semaphore) Acquire(t *loop.Task) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	if s.permits > 0 && s.waiters.Len() == 0 {
		s.permits--
		return nil
	}
	return s.waiters.Wait(t) // a successful wait was handed a permit
}

// TryAcquire takes a permit if one is free and nobody waits.
func (s *Semaphore) TryAcquire() bool {
	if s.permits > 0 && s.waiters.Len() == 0 {
		s.permits--
		return true
	}
	return false
}

// Release returns a permit, waking the longest waiting task with it.
func (s *Semaphore) Release() error {
	if s.waiters.Len() == 0 && s.bounded && s.permits >= s.bound {
		return ErrOverRelease
	}
	s.release()
	return nil
}

func (s *Semaphore) release() {
	if s.waiters.WakeOne() == nil {
		s.permits++
	}
}

// With runs fn holding a permit and releases it afterwards.
func (s *Semaphore) With(t *loop.Task, fn loop.TaskFunc) error {
	if err := s.Acquire(t); err != nil {
		return err
	}
	defer s.release()
	return fn(t)
}

// Available reports how many permits are free.
func (s *Semaphore) Available() int { return s.permits }

// Waiting reports how many tasks wait for a permit.
func (s *Semaphore) Waiting() int { return s.waiters.Len() }
