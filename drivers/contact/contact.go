// Package contact is the switch driver (the seed's aswitch Switch): a
// debounced two-state contact — a reed switch, a door contact, a toggle —
// whose state is readable at any time (Closed, Latest) and whose changes
// are published as timestamped events (Events, Subscribe, OnEvent) and as
// two awaitable states (WaitClosed, WaitOpen).
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
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"periph.io/x/conn/v3/gpio"
)

// Defaults of the options.
const (
	DefaultDebounce  = 50 * time.Millisecond
	DefaultQueueSize = 16
)

// Errors of a Switch.
var (
	// ErrRunning is returned by Run while the switch's Run is running.
	ErrRunning = errors.New("contact: Run is already running")
)

// Event is the contact's state from a debounced change on, stamped with
// the time of its first edge (or, for a change seen when the contact went
// quiet, that time). Its JSON is {"closed":true,"time":"…"}.
type Event struct {
	Closed bool      `json:"closed"`
	Time   time.Time `json:"time"`
}

func (e Event) String() string {
	s := "opened"
	if e.Closed {
		s = "closed"
	}
	return s + " at " + e.Time.Format("15:04:05.000")
}

// Stats counts a switch's changes.
type Stats struct {
	Changes uint64 // changes queued
	Dropped uint64 // changes lost because a queue was full or closed
}

type config struct {
	inputdrv.Config[Event]
}

// An Option configures a Switch.
type Option func(*config) error

const pkg = "contact"

// WithDebounce sets the debounce time (default 50 ms; 0 turns it off).
func WithDebounce(d time.Duration) Option {
	return func(c *config) error { return option.NonNegative(pkg, "WithDebounce", &c.Debounce, d) }
}

// ActiveHigh says the pin reads high when the contact is closed (wired to the
// supply, with a pull-down, which Run configures unless WithInput sets a
// pull). The default is active-low: wired to ground, with a pull-up.
func ActiveHigh() Option {
	return func(c *config) error { return option.Set(&c.ActiveHigh, true) }
}

// WithQueueSize bounds the switch's event queue (default 16). When nobody
// takes events, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.QueueSize, n) }
}

// OnEvent calls fn on the loop with every change, before it is queued (the
// seed's close_func and open_func in one). fn must not block.
func OnEvent(fn func(Event)) Option {
	return func(c *config) error { return option.Set(&c.OnEvent, fn) }
}

// WithInput passes options to the switch's gpioin.Input: polling instead of
// edges, a poll period, a pull.
func WithInput(opts ...gpioin.Option) Option {
	return func(c *config) error { return c.AddInput(opts) }
}

// A Switch is a debounced contact on one input pin. Its methods are called on
// the loop.
type Switch struct {
	cfg config
	in  *gpioin.Input
	out *outlet.Outlet[Event]

	running      bool
	latest       primitives.Event[Event]
	closed, open primitives.Event[time.Time] // exactly one is set once Run started
}

// New returns a Switch on pin configured by opts, reporting every bad
// option. It does not touch the pin until Run.
func New(pin gpio.PinIn, opts ...Option) (*Switch, error) {
	cfg := config{Config: inputdrv.Config[Event]{Debounce: DefaultDebounce, QueueSize: DefaultQueueSize}}
	in, out, err := inputdrv.Build(pkg, pin, &cfg.Config, option.Apply(&cfg, opts))
	if err != nil {
		return nil, err
	}
	return &Switch{cfg: cfg, in: in, out: out}, nil
}

// Run watches the contact until t is cancelled, and returns t's interruption
// or a pin configuration error. Run it as a task of its own; it may run
// again after it has returned.
func (s *Switch) Run(t *loop.Task) error {
	if s.running {
		return ErrRunning
	}
	s.running = true
	defer func() { s.running = false }()
	db := gpioin.NewDebouncer(t.Loop(), s.cfg.Debounce, s.change)
	defer db.Stop()
	return s.in.Run(t, db.Edge)
}

// Closed reports the debounced state: true while the contact is closed.
// Before Run has read the pin it reports false.
func (s *Switch) Closed() bool { return s.latest.Value().Closed }

// Known reports whether Run has read the pin yet, so Closed means something.
func (s *Switch) Known() bool { return s.latest.IsSet() }

// Latest holds the contact's state: set when Run first reads the pin, then
// at every change. Any number of tasks may Wait on it, or follow every
// change with WaitNext.
func (s *Switch) Latest() *primitives.Event[Event] { return &s.latest }

// WaitClosed returns at once if the contact is closed, else waits until it
// closes; it returns when that happened. It fails only with t's
// interruption.
func (s *Switch) WaitClosed(t *loop.Task) (time.Time, error) { return s.closed.Wait(t) }

// WaitOpen returns at once if the contact is open, else waits until it
// opens; it returns when that happened. It fails only with t's interruption.
func (s *Switch) WaitOpen(t *loop.Task) (time.Time, error) { return s.open.Wait(t) }

// Events returns the switch's queue of changes. One consumer takes them;
// another subscribes with Subscribe.
func (s *Switch) Events() *primitives.Queue[Event] { return s.out.Events() }

// Subscribe returns a further queue of size changes that gets every change
// from now on, for a second consumer; closing it unsubscribes.
func (s *Switch) Subscribe(size int) *primitives.Queue[Event] { return s.out.Subscribe(size) }

// Stats returns the switch's counters.
func (s *Switch) Stats() Stats { return Stats{Changes: s.out.Sent(), Dropped: s.out.Dropped()} }

// Input returns the switch's input, for its mode and counters.
func (s *Switch) Input() *gpioin.Input { return s.in }

func (s *Switch) change(e gpioin.Edge) {
	closed := bool(e.Level) == s.cfg.ActiveHigh
	if !e.Initial && closed == s.Closed() {
		return
	}
	ev := Event{Closed: closed, Time: e.Time}
	s.latest.Set(ev)
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
	s.out.Send(ev)
}
