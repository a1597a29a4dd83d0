// Package led is the LED driver (the seed's aledflash and LED_async): on,
// off, toggle and brightness on one output pin, and blink patterns played by
// a loop task — a number of times or forever — including the heartbeat that
// shows the loop is alive (the seed's hint for a hung program: a task that
// toggles an LED stops blinking when the scheduler stops).
//
// One thing drives the LED at a time, and the latest request wins: On, Off,
// Set, Toggle, SetBrightness, Play and Stop all end a pattern in progress.
// A pattern that ends by itself, or whose task is cancelled, leaves the LED as
// it was before the pattern started.
//
// Brightness uses the pin's PWM (gpio.PinOut.PWM). Full brightness and off
// need no PWM; any other level on a pin without PWM fails with ErrNoPWM and
// changes nothing, so the caller can tell the user instead of guessing.
//
// The driver must not block the loop: every method is called on the loop,
// and patterns wait with timers.
package led

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Errors of the LED.
var (
	// ErrNoPWM: a brightness between 0 and 1 was asked of a pin whose PWM
	// failed (it has none, or not at that frequency).
	ErrNoPWM = errors.New("led: pin has no usable PWM")
	// ErrInterrupted is returned by Blink when another request (On, Off, a
	// newer pattern …) took the LED over.
	ErrInterrupted = errors.New("led: pattern interrupted by a newer request")
	// ErrRunning is returned by Run when the LED's Run is already running.
	ErrRunning = errors.New("led: Run is already running")
)

// Pattern is a blink pattern: Steps alternate on and off durations, starting
// with on, and the sequence plays Repeat times, or forever when Repeat is 0.
// A zero-length step is skipped.
type Pattern struct {
	Steps  []time.Duration
	Repeat int
}

// Blinking returns the pattern on for `on`, off for `off`, count times
// (0 for forever).
func Blinking(on, off time.Duration, count int) Pattern {
	return Pattern{Steps: []time.Duration{on, off}, Repeat: count}
}

// Heartbeat returns the "loop is alive" pattern: two short flashes per
// period, forever — on 7 % of the period, off 18 %, on 7 %, off 68 % (the
// Linux heartbeat trigger's shape; for 1 s: 70, 180, 70, 680 ms).
func Heartbeat(period time.Duration) Pattern {
	p := func(pct int64) time.Duration { return time.Duration(int64(period) * pct / 100) }
	beat := p(7)
	return Pattern{Steps: []time.Duration{beat, p(18), beat, period - 2*beat - p(18)}}
}

// Validate reports what is wrong with the pattern, if anything.
func (p Pattern) Validate() error {
	if len(p.Steps) == 0 || len(p.Steps)%2 != 0 {
		return fmt.Errorf("led: pattern has %d steps, want a non-zero even number (on, off, on, off …)", len(p.Steps))
	}
	var total time.Duration
	for i, s := range p.Steps {
		if s < 0 {
			return fmt.Errorf("led: pattern step %d is %v, want 0 or more", i, s)
		}
		total += s
	}
	if total <= 0 {
		return errors.New("led: pattern lasts 0s; want at least one step longer than 0")
	}
	if p.Repeat < 0 {
		return fmt.Errorf("led: pattern repeat %d, want 0 (forever) or more", p.Repeat)
	}
	return nil
}

type config struct {
	activeLow bool
	freq      physic.Frequency
}

// An Option configures an LED.
type Option func(*config) error

// ActiveLow says the LED lights when the pin is low (wired from the supply
// to the pin). The default is active-high: from the pin to ground.
func ActiveLow() Option {
	return func(c *config) error { return option.Set(&c.activeLow, true) }
}

// WithPWMFrequency sets the PWM frequency for brightness (default 0: the
// pin driver's preferred one).
func WithPWMFrequency(f physic.Frequency) Option {
	return func(c *config) error {
		if f < 0 {
			return option.Errorf("led", fmt.Sprintf("WithPWMFrequency(%v)", f), "must not be negative")
		}
		return option.Set(&c.freq, f)
	}
}

// An LED on one output pin. Its methods are called on the loop.
type LED struct {
	pin gpio.PinOut
	cfg config

	on         bool    // what On/Off/Set asked for
	brightness float64 // when on, in (0, 1]

	shownValid bool      // the pin's output is known:
	shownDuty  gpio.Duty // the logical duty shown (0 off, DutyMax full on)
	cur        *player   // the pattern playing, if any
	pending    *Pattern  // the pattern Play asked Run for
	runWake    loop.WaitQueue
	running    bool
}

// New returns an LED on pin configured by opts, reporting every bad
// option, and turns it off: unlike the other drivers' constructors, it
// writes to the pin, because an output must be in a known state from the
// start, whether or not Run ever runs.
func New(pin gpio.PinOut, opts ...Option) (*LED, error) {
	if pin == nil {
		return nil, errors.New("led: New: pin is nil")
	}
	d := &LED{pin: pin, brightness: 1}
	if err := option.Apply(&d.cfg, opts); err != nil {
		return nil, fmt.Errorf("%w (pin %s)", err, pin)
	}
	if err := d.show(0); err != nil {
		return nil, err
	}
	return d, nil
}

// IsOn reports whether the LED is on, as On, Off, Set, Toggle and
// SetBrightness left it (not the momentary state of a pattern).
func (d *LED) IsOn() bool { return d.on }

// Brightness reports the brightness the LED has when on (1 unless
// SetBrightness changed it).
func (d *LED) Brightness() float64 { return d.brightness }

// On turns the LED on at its brightness, ending any pattern.
func (d *LED) On() error { return d.Set(true) }

// Off turns the LED off, ending any pattern.
func (d *LED) Off() error { return d.Set(false) }

// Toggle switches the LED between on and off, ending any pattern.
func (d *LED) Toggle() error { return d.Set(!d.on) }

// Set turns the LED on or off, ending any pattern.
func (d *LED) Set(on bool) error {
	d.interrupt()
	d.pending = nil
	d.on = on
	return d.showState(on)
}

// SetBrightness sets the brightness, 0 to 1, and turns the LED on at it —
// or off for 0, keeping the previous brightness for the next On. Values
// strictly between 0 and 1 need PWM: if the pin's PWM fails, SetBrightness
// returns an error matching ErrNoPWM and changes nothing.
func (d *LED) SetBrightness(b float64) error {
	if math.IsNaN(b) || b < 0 || b > 1 {
		return fmt.Errorf("led: %s: brightness %v, want 0 to 1", d.pin, b)
	}
	if b == 0 {
		return d.Off()
	}
	if err := d.show(duty(b)); err != nil {
		return err
	}
	d.interrupt()
	d.pending = nil
	d.on, d.brightness = true, b
	return nil
}

// Blink plays p on the calling task and returns when it has played Repeat
// times (nil), when t is interrupted (its error), when another request takes
// the LED over (ErrInterrupted), or when the pin fails. Ending by itself or
// by t's interruption, it leaves the LED as it was before.
func (d *LED) Blink(t *loop.Task, p Pattern) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := await.Checkpoint(t); err != nil {
		return err // an interrupted task does not take the LED over
	}
	d.interrupt()
	pl := &player{}
	d.cur = pl
	defer func() {
		if pl.timer != nil {
			pl.timer.Stop()
		}
		if d.cur == pl { // not taken over: back to the state before
			d.cur = nil
			_ = d.showState(d.on) // the pattern's own error, if any, is the one to report
		}
	}()
	l := t.Loop()
	next := l.Now()
	for rep := 0; p.Repeat == 0 || rep < p.Repeat; rep++ {
		for i, step := range p.Steps {
			if step == 0 {
				continue
			}
			if err := d.showState(i%2 == 0); err != nil {
				return err
			}
			next = next.Add(step)
			if err := pl.sleepUntil(t, next); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run plays the patterns given to Play, one after the other as they come,
// until t is cancelled. Run it as a task of its own to drive the LED in the
// background (the seed's LED_async).
func (d *LED) Run(t *loop.Task) error {
	if d.running {
		return fmt.Errorf("%w (pin %s)", ErrRunning, d.pin)
	}
	d.running = true
	defer func() { d.running = false }()
	for {
		for d.pending == nil {
			if err := d.runWake.Wait(t); err != nil {
				return err
			}
		}
		p := *d.pending
		d.pending = nil
		if err := d.Blink(t, p); err != nil && !errors.Is(err, ErrInterrupted) {
			return err
		}
	}
}

// Play hands p to Run, ending any pattern in progress. If Run is not
// running, p waits for it; meanwhile the LED shows its on/off state.
func (d *LED) Play(p Pattern) error {
	if err := p.Validate(); err != nil {
		return err
	}
	d.interrupt()
	d.pending = &p
	d.runWake.WakeAll()
	if !d.running {
		return d.showState(d.on)
	}
	return nil
}

// Stop ends any pattern, playing or waiting for Run, and shows the LED's
// on/off state.
func (d *LED) Stop() error {
	d.interrupt()
	d.pending = nil
	return d.showState(d.on)
}

// interrupt ends the pattern in progress: its task wakes and returns
// ErrInterrupted without touching the pin.
func (d *LED) interrupt() {
	if d.cur != nil {
		d.cur.stopped = true
		d.cur.wq.WakeAll()
		d.cur = nil
	}
}

// showState shows on (at the LED's brightness) or off.
func (d *LED) showState(on bool) error {
	if !on {
		return d.show(0)
	}
	return d.show(duty(d.brightness))
}

// show drives the pin to the logical duty v (0 off, DutyMax full on),
// skipping a write that would change nothing.
func (d *LED) show(v gpio.Duty) error {
	if d.shownValid && d.shownDuty == v {
		return nil
	}
	var err error
	switch v {
	case 0, gpio.DutyMax:
		level := gpio.Level((v == gpio.DutyMax) != d.cfg.activeLow)
		if err = d.pin.Out(level); err != nil {
			err = fmt.Errorf("led: %s: set %v: %w", d.pin, level, err)
		}
	default:
		pv := v
		if d.cfg.activeLow {
			pv = gpio.DutyMax - v
		}
		if err = d.pin.PWM(pv, d.cfg.freq); err != nil {
			err = fmt.Errorf("led: %s: brightness %.3f: %w: %w", d.pin, float64(v)/float64(gpio.DutyMax), ErrNoPWM, err)
		}
	}
	if err != nil {
		d.shownValid = false
		return err
	}
	d.shownValid, d.shownDuty = true, v
	return nil
}

// duty converts a brightness in (0, 1] to a logical duty.
func duty(b float64) gpio.Duty {
	return gpio.Duty(math.Round(b * float64(gpio.DutyMax)))
}

// player is one pattern in progress.
type player struct {
	wq      loop.WaitQueue
	timer   *loop.Timer
	stopped bool
}

// sleepUntil waits until when on t's clock, or until the pattern is
// interrupted (ErrInterrupted) or t is (its error).
func (pl *player) sleepUntil(t *loop.Task, when time.Time) error {
	l := t.Loop()
	d := when.Sub(l.Now())
	if d > 0 {
		if pl.timer == nil {
			pl.timer = l.CallLater(d, func() { pl.wq.WakeAll() })
		} else {
			pl.timer.Reset(d)
		}
		if err := pl.wq.Wait(t); err != nil {
			return err
		}
	}
	if pl.stopped {
		return ErrInterrupted
	}
	return nil
}
