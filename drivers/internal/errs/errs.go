// Package errs holds the error kinds every driver shares. It must hold no
// other state than immutable error values.
package errs

import "github.com/edgeagent/edgeagent/primitives"

// Closed returns a sentinel for a driver's "closed" error: its message is
// msg (the driver's, with its prefix), and errors.Is matches it against
// primitives.ErrClosed, the one closed sentinel callers test, whether a
// stream, a modem or a queue has closed.
func Closed(msg string) error { return closedError{msg} }

type closedError struct{ msg string }

func (e closedError) Error() string { return e.msg }

// Is matches primitives.ErrClosed.
func (e closedError) Is(target error) bool { return target == primitives.ErrClosed }
