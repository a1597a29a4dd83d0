package loop

import "time"

// A scope is a WaitFor deadline or a Shield on a task's scope stack.
type scope struct {
	shield  bool
	expired bool
	task    *Task
	timer   timer
}

// shieldScope is shared by every Shield: a shield never changes.
var shieldScope = &scope{shield: true, timer: timer{index: -1}}

// WaitFor runs fn on t with a deadline d from now. When the deadline
// passes, the await fn is in returns ErrTimeout at once (not when it would
// have ended, as in the seed's V2), and so does every later await inside
// the scope; fn normally returns that error, and WaitFor returns what fn
// returns. Scopes nest: whichever deadline passes first interrupts, and an
// inner WaitFor that expired leaves the outer scope free to go on.
//
// Cancelling t interrupts fn too (with ErrCancelled, which wins over a
// timeout).
func WaitFor(t *Task, d time.Duration, fn TaskFunc) error {
	_, err := WaitForValue(t, d, func(t *Task) (struct{}, error) { return struct{}{}, fn(t) })
	return err
}

// WaitForValue is WaitFor for a function that returns a value, such as a
// sensor read: v, err := loop.WaitForValue(t, 2*time.Second, sensor.Read).
func WaitForValue[T any](t *Task, d time.Duration, fn func(*Task) (T, error)) (T, error) {
	if t.loop.current != t {
		t.misuse()
	}
	s := &scope{task: t}
	s.timer.index = -1
	if d <= 0 {
		s.expired = true
	} else {
		s.timer.scope = s
		t.loop.schedule(&s.timer, d)
	}
	t.scopes = append(t.scopes, s)
	defer t.popScope(s)
	return fn(t)
}

func (s *scope) expire() {
	s.expired = true
	s.task.interrupt()
}

func (t *Task) popScope(s *scope) {
	if s.timer.index >= 0 {
		t.loop.timers.remove(&s.timer)
	}
	t.scopes[len(t.scopes)-1] = nil
	t.scopes = t.scopes[:len(t.scopes)-1]
}

// Shield runs fn on t with cancellation, and the deadlines of enclosing
// WaitFor scopes, held off: fn's awaits work even though t has been
// cancelled. It is the way to clean up with awaits, such as publishing
// "offline" before a task ends. Bound the cleanup with a WaitFor inside the
// shield; after Shield returns, a pending cancellation applies again.
func Shield(t *Task, fn TaskFunc) error {
	if t.loop.current != t {
		t.misuse()
	}
	t.scopes = append(t.scopes, shieldScope)
	defer t.popScope(shieldScope)
	return fn(t)
}
