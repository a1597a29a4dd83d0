// Package option is how every driver applies its functional options, and
// the checks the drivers' common options share: one wording for one
// mistake, whichever driver it is made with.
//
// It must not know any driver's options; each driver keeps its own Option
// type and config.
package option

import (
	"errors"
	"fmt"
	"time"
)

// Apply calls every option on c in order, skipping nil ones, and returns
// all their errors joined, so a user sees every mistake at once. Drivers'
// constructors return it before doing anything else.
func Apply[C any, O ~func(*C) error](c *C, opts []O) error {
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Errorf returns an option error: the package, the option with its
// argument as the user wrote it, and what is wrong, e.g.
// "button: WithQueueSize(0): must be at least 1".
func Errorf(pkg, call, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", pkg, call, fmt.Sprintf(format, args...))
}

// QueueSize checks and sets the size of a driver's event queue.
func QueueSize(pkg string, dst *int, n int) error {
	if n < 1 {
		return Errorf(pkg, fmt.Sprintf("WithQueueSize(%d)", n), "must be at least 1")
	}
	*dst = n
	return nil
}

// NonNegative checks and sets a duration for which 0 means "off".
func NonNegative(pkg, name string, dst *time.Duration, d time.Duration) error {
	if d < 0 {
		return Errorf(pkg, fmt.Sprintf("%s(%v)", name, d), "must not be negative")
	}
	*dst = d
	return nil
}

// Positive checks and sets a duration that must be longer than 0.
func Positive(pkg, name string, dst *time.Duration, d time.Duration) error {
	if d <= 0 {
		return Errorf(pkg, fmt.Sprintf("%s(%v)", name, d), "must be positive")
	}
	*dst = d
	return nil
}

// Backoff checks and sets a retry schedule: first after the first failure,
// doubling, never more than max.
func Backoff(pkg string, first, max *time.Duration, f, m time.Duration) error {
	if f <= 0 || m < f {
		return Errorf(pkg, fmt.Sprintf("WithBackoff(%v, %v)", f, m), "want 0 < first ≤ max")
	}
	*first, *max = f, m
	return nil
}

// Set is an option that cannot be wrong: it sets dst to v.
func Set[T any](dst *T, v T) error {
	*dst = v
	return nil
}
