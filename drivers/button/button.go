// Package button is the pushbutton driver (the seed's aswitch Pushbutton):
// from one debounced input it recognises press, release, double-click and
// long press, and publishes them as typed, timestamped events (Events,
// Subscribe, OnEvent), in the shape every driver has (see package drivers).
//
// Gestures follow the seed (aswitch.py, final V2) with its V3 fixes:
//
//   - Press is reported at once on every press, Release on every release.
//   - LongPress fires while the button is still held, the long-press time
//     after the press; releasing earlier cancels it.
//   - DoubleClick fires on a second press within the double-click time of the
//     first. That second press starts no long-press timer (V3's choice, our
//     choice too: holding the second press of a double-click is not a long
//     press — the peers' complaint of double and long both firing), and a
//     third press starts a new pair.
//   - With Suppress, Release means "a click that was nothing else": it is
//     not reported for a release that ended a long press or a double-click,
//     and when double-clicks are detected it waits until the double-click
//     time has passed (so a single click is reported then, not at once).
//     Press is never suppressed.
//
// A duration of 0 turns long-press or double-click detection off; with both
// off and Suppress, Release is reported at once.
//
// The driver must not block the loop and must not poll an edge-capable pin:
// it is fed by package gpioin.
package button

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"periph.io/x/conn/v3/gpio"
)

// The seed's defaults.
const (
	DefaultDebounce    = 50 * time.Millisecond
	DefaultLongPress   = 1000 * time.Millisecond
	DefaultDoubleClick = 400 * time.Millisecond
	DefaultQueueSize   = 32
)

// Errors of a Button.
var (
	// ErrRunning is returned by Run while the button's Run is running.
	ErrRunning = errors.New("button: Run is already running")
)

// Kind is what happened to the button. On the wire (JSON, MQTT) it is a
// lower-case word: "press", "release", "double", "long".
type Kind uint8

// The kinds of event.
const (
	Press       Kind = iota + 1 // "press": the button went down
	Release                     // "release": it came up (with Suppress: a plain click)
	DoubleClick                 // "double": a second press within the double-click time
	LongPress                   // "long": held for the long-press time, still down
)

var kindNames = [...]string{Press: "press", Release: "release", DoubleClick: "double", LongPress: "long"}

// String returns the kind's wire word, e.g. "double".
func (k Kind) String() string {
	if k >= Press && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText returns the kind's wire word; an unknown kind is an error.
func (k Kind) MarshalText() ([]byte, error) {
	if k < Press || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("button: no wire name for %v", k)
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText parses a wire word.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n != "" && n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("button: unknown event kind %q (want press, release, double or long)", b)
}

// Event is one gesture, stamped with the loop's clock: for Press and an
// immediate Release the time of the edge that caused it, for LongPress and a
// suppressed Release the time its timer fired. Its JSON is
// {"kind":"press","time":"2006-01-02T15:04:05.05Z"}.
type Event struct {
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"`
}

func (e Event) String() string {
	return e.Kind.String() + " at " + e.Time.Format("15:04:05.000")
}

// Stats counts a button's events.
type Stats struct {
	Events  uint64 // events queued
	Dropped uint64 // events lost because a queue was full or closed
}

type config struct {
	inputdrv.Config[Event]
	long     time.Duration
	double   time.Duration
	suppress bool
}

// An Option configures a Button.
type Option func(*config) error

// WithDebounce sets the debounce time (default 50 ms; 0 turns it off). See
// gpioin.Debouncer: a press is reported at its first edge, and changes
// closer together than this are merged.
func WithDebounce(d time.Duration) Option {
	return func(c *config) error { return option.NonNegative(pkg, "WithDebounce", &c.Debounce, d) }
}

// WithLongPress sets how long a press must be held for LongPress (default
// 1 s); 0 turns long-press detection off.
func WithLongPress(d time.Duration) Option {
	return func(c *config) error { return option.NonNegative(pkg, "WithLongPress", &c.long, d) }
}

// WithDoubleClick sets the time within which a second press makes a
// DoubleClick, measured press to press (default 400 ms); 0 turns
// double-click detection off.
func WithDoubleClick(d time.Duration) Option {
	return func(c *config) error { return option.NonNegative(pkg, "WithDoubleClick", &c.double, d) }
}

// Suppress reports Release only for a click that was neither a long press
// nor part of a double-click (see the package comment).
func Suppress() Option {
	return func(c *config) error { return option.Set(&c.suppress, true) }
}

// ActiveHigh says the button pulls the pin high when pressed (wired to the
// supply, with a pull-down, which Run configures unless WithInput sets a
// pull). The default is active-low: wired to ground, with a pull-up.
func ActiveHigh() Option {
	return func(c *config) error { return option.Set(&c.ActiveHigh, true) }
}

// WithQueueSize bounds the button's event queue (default 32). When nobody
// takes events, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.QueueSize, n) }
}

// OnEvent calls fn on the loop with every event, before it is queued. fn
// must not block.
func OnEvent(fn func(Event)) Option {
	return func(c *config) error { return option.Set(&c.OnEvent, fn) }
}

// WithInput passes options to the button's gpioin.Input: polling instead of
// edges, a poll period, a pull.
func WithInput(opts ...gpioin.Option) Option {
	return func(c *config) error { return c.AddInput(opts) }
}

const pkg = "button"

// A Button is a debounced pushbutton on one input pin. Its methods are called
// on the loop.
type Button struct {
	cfg config
	in  *gpioin.Input
	out *outlet.Outlet[Event]

	running       bool
	l             *loop.Loop
	db            *gpioin.Debouncer
	pressed       bool
	longArmed     bool // this press may still become a long press, at longAt
	longAt        time.Time
	doublePending bool // a first click's double-click window is open, until doubleAt
	doubleAt      time.Time
	doubleRan     bool // this press completed a double-click
	longFired     bool // this press was a long press
	heldAtStart   bool // pressed when Run started: its release is not an event
	longTimer     *loop.Timer
	doubleTimer   *loop.Timer
}

// New returns a Button on pin configured by opts, reporting every bad
// option. It does not touch the pin until Run.
func New(pin gpio.PinIn, opts ...Option) (*Button, error) {
	cfg := config{
		Config: inputdrv.Config[Event]{Debounce: DefaultDebounce, QueueSize: DefaultQueueSize},
		long:   DefaultLongPress,
		double: DefaultDoubleClick,
	}
	in, out, err := inputdrv.Build(pkg, pin, &cfg.Config, option.Apply(&cfg, opts))
	if err != nil {
		return nil, err
	}
	return &Button{cfg: cfg, in: in, out: out}, nil
}

// Run watches the button until t is cancelled, and returns t's
// interruption or a pin configuration error. Run it as a task of its own:
// l.Go("button", b.Run), or in a group. It may run again after it has
// returned (a supervisor restarting it); the gesture state starts afresh.
func (b *Button) Run(t *loop.Task) error {
	if b.running {
		return ErrRunning
	}
	b.running = true
	defer func() { b.running = false }()
	b.l = t.Loop()
	b.db = gpioin.NewDebouncer(b.l, b.cfg.Debounce, b.change)
	defer b.stop()
	return b.in.Run(t, b.db.Edge)
}

// Events returns the button's queue of events. One consumer takes them;
// another subscribes with Subscribe.
func (b *Button) Events() *primitives.Queue[Event] { return b.out.Events() }

// Subscribe returns a further queue of size events that gets every event
// from now on, for a second consumer; closing it unsubscribes. A full
// subscriber drops its oldest event, counted in Stats.
func (b *Button) Subscribe(size int) *primitives.Queue[Event] { return b.out.Subscribe(size) }

// Pressed reports the debounced state: true while the button is held.
func (b *Button) Pressed() bool { return b.pressed }

// Stats returns the button's counters.
func (b *Button) Stats() Stats { return Stats{Events: b.out.Sent(), Dropped: b.out.Dropped()} }

// Input returns the button's input, for its mode and counters.
func (b *Button) Input() *gpioin.Input { return b.in }

func (b *Button) stop() {
	b.db.Stop()
	b.pressed, b.heldAtStart, b.longFired, b.doubleRan = false, false, false, false
	if b.longTimer != nil {
		b.longTimer.Stop()
	}
	if b.doubleTimer != nil {
		b.doubleTimer.Stop()
	}
	b.longArmed, b.doublePending = false, false
}

func (b *Button) active(l gpio.Level) bool { return bool(l) == b.cfg.ActiveHigh }

// change runs the gesture state machine on one debounced change.
//
// The machine goes by the times of changes and deadlines, not by the order
// in which the loop runs its callbacks: a deadline passed before a change is
// handled first (catchUp), with the state it had then, whether or not its
// timer's callback has run yet.
func (b *Button) change(e gpioin.Edge) {
	pressed := b.active(e.Level)
	if e.Initial {
		b.pressed, b.heldAtStart = pressed, pressed // held at start: no Press
		return
	}
	b.catchUp(e.Time)
	if pressed == b.pressed {
		return
	}
	b.pressed = pressed
	if pressed {
		b.onPress(e.Time)
	} else {
		b.onRelease(e.Time)
	}
}

// catchUp handles the long-press and double-click deadlines up to `at`, in
// time order.
func (b *Button) catchUp(at time.Time) {
	for {
		long := b.longArmed && !at.Before(b.longAt)
		double := b.doublePending && !at.Before(b.doubleAt)
		switch {
		case long && (!double || !b.doubleAt.Before(b.longAt)):
			b.longArmed = false
			b.longFired = true
			b.emit(LongPress, b.longAt) // armed only while pressed
		case double:
			// A first click's window closed with no second press: with
			// Suppress, that click's Release is due now if it has ended.
			b.doublePending = false
			if b.cfg.suppress && !b.pressed && !b.longFired {
				b.emit(Release, b.doubleAt)
			}
		default:
			return
		}
	}
}

func (b *Button) timerFired() {
	now := b.l.Now()
	b.db.SettleUntil(now) // changes that came before the deadline first
	b.catchUp(now)
}

func (b *Button) onPress(at time.Time) {
	b.emit(Press, at)
	b.longFired, b.doubleRan = false, false
	doubleOpen := b.doublePending
	if b.cfg.long > 0 && !doubleOpen {
		b.longArmed, b.longAt = true, at.Add(b.cfg.long)
		b.longTimer = b.arm(b.longTimer, b.longAt)
	}
	if b.cfg.double == 0 {
		return
	}
	if doubleOpen {
		b.doubleTimer.Stop()
		b.doublePending, b.doubleRan = false, true
		b.emit(DoubleClick, at)
		return
	}
	b.doublePending, b.doubleAt = true, at.Add(b.cfg.double)
	b.doubleTimer = b.arm(b.doubleTimer, b.doubleAt)
}

func (b *Button) onRelease(at time.Time) {
	b.longArmed = false
	if b.longTimer != nil {
		b.longTimer.Stop()
	}
	if b.heldAtStart {
		b.heldAtStart = false // the release of a press nobody saw
		return
	}
	if !b.cfg.suppress || (!b.doublePending && !b.doubleRan && !b.longFired) {
		b.emit(Release, at)
	}
	b.doubleRan = false
}

// arm (re)starts tm to fire at when.
func (b *Button) arm(tm *loop.Timer, when time.Time) *loop.Timer {
	d := when.Sub(b.l.Now())
	if tm == nil {
		return b.l.CallLater(d, b.timerFired)
	}
	tm.Reset(d)
	return tm
}

func (b *Button) emit(k Kind, at time.Time) { b.out.Send(Event{Kind: k, Time: at}) }
