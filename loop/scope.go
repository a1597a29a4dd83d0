package loop

import (
	"errors"
	"fmt"
	"time"
)

// A scope is a WaitFor deadline or a Shield on a task's scope stack.
type scope struct {
	shield  bool
	expired bool
	open    bool // on its task's scope stack: its WaitFor has not returned
	task    *Task
	timer   timer
	err     *TimeoutError // what awaits in the scope fail with once it expired
}

// shieldScope is shared by every Shield: a shield never changes.
var shieldScope = &scope{shield: true, timer: timer{index: -1}}

// A TimeoutError is what the awaits inside an expired WaitFor scope fail
// with, and so, usually, what the WaitFor returns. errors.Is(err,
// ErrTimeout) holds for it. It knows whose deadline passed, so code with
// nested deadlines can tell its own from its caller's (OwnTimeout).
type TimeoutError struct {
	After time.Duration // the duration given to the WaitFor whose deadline passed
	s     *scope
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("loop: timed out after %v", e.After) }

// Is makes errors.Is(err, ErrTimeout) hold for every TimeoutError.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// OwnTimeout reports whether err is, or wraps, the expiry of a WaitFor that
// has returned — the call that gave err, or one inside it — rather than of a
// WaitFor still running around the code asking. An own timeout may be
// retried in the time left; any other ErrTimeout means an enclosing
// deadline has passed, the caller's budget is spent, and the error should
// be returned:
//
//	for {
//		v, err := loop.WaitForValue(t, time.Second, sensor.Read)
//		if loop.OwnTimeout(err) {
//			continue // this second is up, the caller's time is not
//		}
//		return v, err // a value, the sensor's error, cancelled, or the caller's deadline
//	}
//
// When deadlines are nested, the awaits in them fail with the outermost
// one that has passed. OwnTimeout is called on the loop.
func OwnTimeout(err error) bool {
	var te *TimeoutError
	if !errors.As(err, &te) || te.s == nil {
		return false
	}
	s := te.s
	return !s.open || s.task.loop.current != s.task
}

// WaitFor runs fn on t with a deadline d from now. When the deadline
// passes, the await fn is in returns a *TimeoutError (errors.Is(err,
// ErrTimeout)) at once — not when it would have ended, as in the seed's V2 —
// and so does every later await inside the scope; fn normally returns that
// error, and WaitFor returns what fn returns. d ≤ 0 is a deadline already
// passed. Scopes nest: whichever deadline passes first interrupts, and an
// inner WaitFor that expired leaves the outer scope free to go on; tell the
// two apart with OwnTimeout.
//
// Cancelling t interrupts fn too, with ErrCancelled, which wins over a
// timeout. An interruption that is not this scope's own — the task's
// cancellation, or an enclosing deadline — is never lost in fn: if an await
// in fn reported one and fn still returns nil, WaitFor returns the
// interruption (as uasyncio's and CPython's wait_for re-raise a swallowed
// cancellation). fn's handling of its own deadline stands: a fn that
// catches its timeout and returns a fallback makes WaitFor return nil.
func WaitFor(t *Task, d time.Duration, fn TaskFunc) error {
	_, err := WaitForValue(t, d, func(t *Task) (struct{}, error) { return struct{}{}, fn(t) })
	return err
}

// WaitForValue is WaitFor for a function that returns a value, such as a
// sensor read: v, err := loop.WaitForValue(t, 2*time.Second, sensor.Read).
// When it reports an interruption fn swallowed, fn's value comes with it.
func WaitForValue[T any](t *Task, d time.Duration, fn func(*Task) (T, error)) (T, error) {
	if t.loop.current != t {
		t.misuse()
	}
	s := &scope{task: t, open: true}
	s.timer.index = -1
	if d <= 0 {
		s.expired = true
	} else {
		s.timer.scope = s
		t.loop.schedule(&s.timer, d)
	}
	s.err = &TimeoutError{After: max(d, 0), s: s}
	t.scopes = append(t.scopes, s)
	delivered := t.delivered
	v, err := func() (T, error) {
		defer t.popScope(s)
		return fn(t)
	}()
	if err == nil && t.delivered != delivered {
		// fn saw an interruption and returned nil: if it was not this
		// scope's own, it still holds outside, and is reported.
		if ierr := t.interruption(); ierr != nil {
			return v, ierr
		}
	}
	return v, err
}

func (s *scope) expire() {
	s.expired = true
	s.task.interrupt()
}

func (t *Task) popScope(s *scope) {
	if s.timer.index >= 0 {
		t.loop.timers.remove(&s.timer)
	}
	if !s.shield {
		s.open = false
	}
	t.scopes[len(t.scopes)-1] = nil
	t.scopes = t.scopes[:len(t.scopes)-1]
}

// Shield runs fn on t with cancellation, and the deadlines of enclosing
// WaitFor scopes, held off: fn's awaits work even though t has been
// cancelled. It is the way to clean up with awaits, such as publishing
// "offline" before a task ends. Bound the cleanup with a WaitFor inside the
// shield; after Shield returns, a pending cancellation applies again (the
// next await fails), and Shield returns what fn returns.
func Shield(t *Task, fn TaskFunc) error {
	if t.loop.current != t {
		t.misuse()
	}
	t.scopes = append(t.scopes, shieldScope)
	defer t.popScope(shieldScope)
	return fn(t)
}
