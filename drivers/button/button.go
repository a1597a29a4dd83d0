// Package button is the pushbutton driver (the seed's aswitch Pushbutton):
// from one debounced input it recognises press, release, double-click and
// long press, and publishes them as typed, timestamped events in a Queue
// and to an optional callback.
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

// Kind is what happened to the button.
type Kind uint8

// The kinds of event.
const (
	Press Kind = iota + 1
	Release
	DoubleClick
	LongPress
)

func (k Kind) String() string {
	switch k {
	case Press:
		return "press"
	case Release:
		return "release"
	case DoubleClick:
		return "double-click"
	case LongPress:
		return "long-press"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event is one gesture, stamped with the loop's clock: for Press and an
// immediate Release the time of the edge that caused it, for LongPress and a
// suppressed Release the time its timer fired.
type Event struct {
	Kind Kind
	Time time.Time
}

func (e Event) String() string {
	return e.Kind.String() + " at " + e.Time.Format("15:04:05.000")
}

type config struct {
	debounce   time.Duration
	long       time.Duration
	double     time.Duration
	suppress   bool
	activeHigh bool
	queueSize  int
	onEvent    func(Event)
	input      []gpioin.Option
}

// An Option configures a Button.
type Option func(*config) error

// WithDebounce sets the debounce time (default 50 ms; 0 turns it off). See
// gpioin.Debouncer: a press is reported at its first edge, and changes
// closer together than this are merged.
func WithDebounce(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("button: WithDebounce(%v): must not be negative", d)
		}
		c.debounce = d
		return nil
	}
}

// WithLongPress sets how long a press must be held for LongPress (default
// 1 s); 0 turns long-press detection off.
func WithLongPress(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("button: WithLongPress(%v): must not be negative", d)
		}
		c.long = d
		return nil
	}
}

// WithDoubleClick sets the time within which a second press makes a
// DoubleClick, measured press to press (default 400 ms); 0 turns
// double-click detection off.
func WithDoubleClick(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("button: WithDoubleClick(%v): must not be negative", d)
		}
		c.double = d
		return nil
	}
}

// Suppress reports Release only for a click that was neither a long press
// nor part of a double-click (see the package comment).
func Suppress() Option {
	return func(c *config) error { c.suppress = true; return nil }
}

// ActiveHigh says the button pulls the pin high when pressed (wired to the
// supply, with a pull-down, which Run configures unless WithInput sets a
// pull). The default is active-low: wired to ground, with a pull-up.
func ActiveHigh() Option {
	return func(c *config) error { c.activeHigh = true; return nil }
}

// WithQueueSize bounds the event queue (default 32). When nobody takes
// events, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("button: WithQueueSize(%d): must be at least 1", n)
		}
		c.queueSize = n
		return nil
	}
}

// OnEvent calls fn on the loop with every event, before it is queued. fn
// must not block.
func OnEvent(fn func(Event)) Option {
	return func(c *config) error { c.onEvent = fn; return nil }
}

// WithInput passes options to the button's gpioin.Input: polling instead of
// edges, a poll period, a pull.
func WithInput(opts ...gpioin.Option) Option {
	return func(c *config) error { c.input = append(c.input, opts...); return nil }
}

// A Button is a debounced pushbutton on one input pin. Its methods are called
// on the loop.
type Button struct {
	cfg config
	in  *gpioin.Input
	out *inputdrv.Outbox[Event]

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

// New returns a Button on pin configured by opts. It does not touch the pin
// until Run.
func New(pin gpio.PinIn, opts ...Option) (*Button, error) {
	cfg := config{
		debounce:  DefaultDebounce,
		long:      DefaultLongPress,
		double:    DefaultDoubleClick,
		queueSize: DefaultQueueSize,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if pin == nil {
		return nil, errors.New("button: New: pin is nil")
	}
	in, err := inputdrv.NewInput(pin, cfg.activeHigh, cfg.input)
	if err != nil {
		return nil, fmt.Errorf("button: %w", err)
	}
	return &Button{cfg: cfg, in: in, out: inputdrv.NewOutbox(cfg.queueSize, cfg.onEvent)}, nil
}

// Run watches the button until t is cancelled, and returns t's
// interruption or a pin configuration error. Run it as a task of its own:
// l.Go("button", b.Run), or in a group.
func (b *Button) Run(t *loop.Task) error {
	b.l = t.Loop()
	b.db = gpioin.NewDebouncer(b.l, b.cfg.debounce, b.change)
	defer b.stop()
	return b.in.Run(t, b.db.Edge)
}

// Events returns the queue the button's events go to.
func (b *Button) Events() *primitives.Queue[Event] { return b.out.Events() }

// Pressed reports the debounced state: true while the button is held.
func (b *Button) Pressed() bool { return b.pressed }

// Dropped reports how many events were dropped because the queue was full.
func (b *Button) Dropped() uint64 { return b.out.Dropped() }

// Input returns the button's input, for its mode and counters.
func (b *Button) Input() *gpioin.Input { return b.in }

func (b *Button) stop() {
	b.db.Stop()
	if b.longTimer != nil {
		b.longTimer.Stop()
	}
	if b.doubleTimer != nil {
		b.doubleTimer.Stop()
	}
	b.longArmed, b.doublePending = false, false
}

func (b *Button) active(l gpio.Level) bool { return bool(l) == b.cfg.activeHigh }

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
