// Package contact is the switch driver (the seed's aswitch Switch): a
// debounced two-state contact — a reed switch, a door contact, a toggle —
// whose state is readable at any time and whose changes are published as
// timestamped events in a Queue, to an optional callback, and as two
// awaitable states (WaitClosed, WaitOpen).
//
// (The package is not called switch: that is a Go keyword.)
//
// Debouncing is gpioin.Debouncer's: a change is reported at its first edge,
// then the contact must be quiet for the debounce time (default 50 ms, the
// seed's) before another is reported. The state at start is read, not
// reported as a change.
//
// The driver must not block the loop and must not poll an edge-capable pin:
// it is fed by package gpioin.
package contact

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"periph.io/x/conn/v3/gpio"
)

// Defaults of the options.
const (
	DefaultDebounce  = 50 * time.Millisecond
	DefaultQueueSize = 16
)

// Event is a debounced change of the contact, at the time of its first edge
// (or, for a change seen when the contact went quiet, that time).
type Event struct {
	Closed bool
	Time   time.Time
}

func (e Event) String() string {
	s := "opened"
	if e.Closed {
		s = "closed"
	}
	return s + " at " + e.Time.Format("15:04:05.000")
}

type config struct {
	debounce   time.Duration
	activeHigh bool
	queueSize  int
	onChange   func(Event)
	input      []gpioin.Option
}

// An Option configures a Switch.
type Option func(*config) error

// WithDebounce sets the debounce time (default 50 ms; 0 turns it off).
func WithDebounce(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("contact: WithDebounce(%v): must not be negative", d)
		}
		c.debounce = d
		return nil
	}
}

// ActiveHigh says the pin reads high when the contact is closed (wired to the
// supply, with a pull-down, which Run configures unless WithInput sets a
// pull). The default is active-low: wired to ground, with a pull-up.
func ActiveHigh() Option {
	return func(c *config) error { c.activeHigh = true; return nil }
}

// WithQueueSize bounds the event queue (default 16). When nobody takes
// events, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("contact: WithQueueSize(%d): must be at least 1", n)
		}
		c.queueSize = n
		return nil
	}
}

// OnChange calls fn on the loop with every change, before it is queued (the
// seed's close_func and open_func in one). fn must not block.
func OnChange(fn func(Event)) Option {
	return func(c *config) error { c.onChange = fn; return nil }
}

// WithInput passes options to the switch's gpioin.Input: polling instead of
// edges, a poll period, a pull.
func WithInput(opts ...gpioin.Option) Option {
	return func(c *config) error { c.input = append(c.input, opts...); return nil }
}

// A Switch is a debounced contact on one input pin. Its methods are called on
// the loop.
type Switch struct {
	cfg config
	in  *gpioin.Input
	out *inputdrv.Outbox[Event]

	closed, open primitives.Event[time.Time] // exactly one is set once Run started
	state        bool
	known        bool
}

// New returns a Switch on pin configured by opts. It does not touch the pin
// until Run.
func New(pin gpio.PinIn, opts ...Option) (*Switch, error) {
	cfg := config{debounce: DefaultDebounce, queueSize: DefaultQueueSize}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if pin == nil {
		return nil, errors.New("contact: New: pin is nil")
	}
	in, err := inputdrv.NewInput(pin, cfg.activeHigh, cfg.input)
	if err != nil {
		return nil, fmt.Errorf("contact: %w", err)
	}
	return &Switch{cfg: cfg, in: in, out: inputdrv.NewOutbox(cfg.queueSize, cfg.onChange)}, nil
}

// Run watches the contact until t is cancelled, and returns t's interruption
// or a pin configuration error. Run it as a task of its own.
func (s *Switch) Run(t *loop.Task) error {
	db := gpioin.NewDebouncer(t.Loop(), s.cfg.debounce, s.change)
	defer db.Stop()
	return s.in.Run(t, db.Edge)
}

// Closed reports the debounced state: true while the contact is closed.
// Before Run has read the pin it reports false.
func (s *Switch) Closed() bool { return s.state }

// Known reports whether Run has read the pin yet, so Closed means something.
func (s *Switch) Known() bool { return s.known }

// WaitClosed returns at once if the contact is closed, else waits until it
// closes; it returns when that happened. It fails only with t's
// interruption.
func (s *Switch) WaitClosed(t *loop.Task) (time.Time, error) { return s.closed.Wait(t) }

// WaitOpen returns at once if the contact is open, else waits until it
// opens; it returns when that happened. It fails only with t's interruption.
func (s *Switch) WaitOpen(t *loop.Task) (time.Time, error) { return s.open.Wait(t) }

// Events returns the queue the switch's changes go to.
func (s *Switch) Events() *primitives.Queue[Event] { return s.out.Events() }

// Dropped reports how many events were dropped because the queue was full.
func (s *Switch) Dropped() uint64 { return s.out.Dropped() }

// Input returns the switch's input, for its mode and counters.
func (s *Switch) Input() *gpioin.Input { return s.in }

func (s *Switch) change(e gpioin.Edge) {
	closed := bool(e.Level) == s.cfg.activeHigh
	if s.known && closed == s.state {
		return
	}
	s.state, s.known = closed, true
	if closed {
		s.open.Clear()
		s.closed.Set(e.Time)
	} else {
		s.closed.Clear()
		s.open.Set(e.Time)
	}
	if e.Initial {
		return
	}
	s.out.Send(Event{Closed: closed, Time: e.Time})
}
