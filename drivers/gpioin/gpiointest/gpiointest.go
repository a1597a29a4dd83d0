// Package gpiointest simulates GPIO input pins for tests and demos of code
// built on package gpioin — the button, contact and IR drivers, and users'
// wiring of them — without hardware, as periph's gpiotest does for its
// own drivers.
//
// A Pin reports its level changes on the loop (it is a gpioin.LoopPin), so
// a driver on it runs with no goroutine and, on a virtual clock, at exact
// times: a test of a 1 s long press runs in microseconds and the same way
// every time. Scripts of levels are played by a task (Play); package
// buttontest and package nectest build gestures and IR frames on it.
//
// It must not be used with real hardware, and it keeps no package-level
// state.
package gpiointest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// A Pin is a simulated pin: a task sets its level at exact loop times
// (virtual ones in tests), and every gpioin.Input watching it gets the
// edge at once, stamped with the loop's clock. It implements
// gpioin.LoopPin and gpio.PinIO; Out is Set, so it can stand for an output
// too.
//
// Set, Play and WaitWatched are called on the loop of the Inputs watching
// the pin; Read and the other gpio.PinIn methods are safe from any
// goroutine.
type Pin struct {
	name string

	// NoEdges makes In fail when edge detection is asked for, like a pin
	// without interrupts: an Input in Auto mode then polls it. Set it before
	// the Input runs.
	NoEdges bool

	mu      sync.Mutex
	level   gpio.Level
	pull    gpio.Pull
	edge    gpio.Edge
	watched bool // In has been called: something reads the pin

	subs    []*sub         // loop side
	watchWQ loop.WaitQueue // Play waiting for a watcher
}

type sub struct {
	l  *loop.Loop
	fn func(gpioin.Edge)
}

// NewPin returns a simulated pin named name, at level initial.
func NewPin(name string, initial gpio.Level) *Pin {
	return &Pin{name: name, level: initial}
}

// Set sets the pin's level. If it changed, every subscribed Input sees an
// edge stamped with its loop's current time, before Set returns.
func (p *Pin) Set(level gpio.Level) { p.SetAt(level, time.Time{}) }

// SetAt sets the pin's level like Set, but stamps the edge with at, a time
// on the watching loop's clock (the zero time: its time now): the change
// happened at at and reaches the loop only now, as an edge from the
// kernel's queue does when the loop is busy. Play stamps each step with
// its scheduled time this way, so that on the real clock, where a sleep
// ends late by a timer's granularity, the edges keep the script's exact
// spacing — the 562.5 µs of an NEC bit — and drivers that decide by the
// stamps see the script as written.
func (p *Pin) SetAt(level gpio.Level, at time.Time) {
	p.mu.Lock()
	changed := p.level != level
	p.level = level
	p.mu.Unlock()
	if !changed {
		return
	}
	for _, s := range append([]*sub(nil), p.subs...) {
		stamp := at
		if stamp.IsZero() {
			stamp = s.l.Now()
		}
		s.fn(gpioin.Edge{Level: level, Time: stamp})
	}
}

// Step is one level change of a script played by Play: the pin goes to
// Level At after the script starts.
type Step struct {
	At    time.Duration
	Level gpio.Level
}

// Play sets the levels of steps at their times on t's clock; steps must be
// in time order. It first waits until something watches the pin (see
// WaitWatched), so it may be called before the driver's task has started,
// and measures the steps' times from then. Each edge is stamped with its
// step's time, not the time the sleep before it ended (see SetAt): on the
// real clock a step may be set late, never with a different stamp. It
// returns when the last step is done, or t's interruption.
func (p *Pin) Play(t *loop.Task, steps ...Step) error {
	for i := 1; i < len(steps); i++ {
		if steps[i].At < steps[i-1].At {
			return fmt.Errorf("gpiointest: pin %s: Play: step %d at %v comes before step %d at %v", p.name, i, steps[i].At, i-1, steps[i-1].At)
		}
	}
	if err := p.WaitWatched(t); err != nil {
		return err
	}
	l := t.Loop()
	start := l.Now()
	for _, s := range steps {
		if wait := start.Add(s.At).Sub(l.Now()); wait > 0 {
			if err := t.Sleep(wait); err != nil {
				return err
			}
		}
		p.SetAt(s.Level, start.Add(s.At))
	}
	return nil
}

// WaitWatched returns once something watches the pin: a gpioin.Input has
// configured it (In), and — since the Input subscribes or starts polling
// in the same step — sees every level set from now on. It returns at once
// if that has happened already.
func (p *Pin) WaitWatched(t *loop.Task) error {
	for !p.Watched() {
		if err := p.watchWQ.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// Watched reports whether In has been called.
func (p *Pin) Watched() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watched
}

// Subscribe implements gpioin.LoopPin.
func (p *Pin) Subscribe(l *loop.Loop, fn func(gpioin.Edge)) (cancel func()) {
	s := &sub{l: l, fn: fn}
	p.subs = append(p.subs, s)
	return func() {
		for i, x := range p.subs {
			if x == s {
				p.subs = append(p.subs[:i], p.subs[i+1:]...)
				return
			}
		}
	}
}

// String implements conn.Resource.
func (p *Pin) String() string { return "sim:" + p.name }

// Halt implements conn.Resource; it does nothing.
func (p *Pin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin: a simulated pin has no number.
func (p *Pin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *Pin) Function() string { return "In/Out" }

// In implements gpio.PinIn. It records pull and edge (the level is the
// simulation's, not the pull's) and marks the pin watched, waking Play.
// With NoEdges set, edge detection fails. A gpioin.Input calls it on the
// loop.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	if p.NoEdges && edge != gpio.NoEdge {
		return fmt.Errorf("gpiointest: pin %s: no edge detection (NoEdges is set)", p.name)
	}
	p.mu.Lock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	first := !p.watched
	p.watched = true
	p.mu.Unlock()
	if first {
		p.watchWQ.WakeAll()
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn. A Pin reports its edges on the loop
// (Subscribe), so it has none to wait for: it returns false at once.
func (p *Pin) WaitForEdge(time.Duration) bool { return false }

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut: it is Set, and must be called on the loop.
func (p *Pin) Out(l gpio.Level) error {
	p.Set(l)
	return nil
}

// PWM implements gpio.PinOut: a simulated pin has no PWM.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("gpiointest: pin " + p.name + ": no PWM")
}

var (
	_ gpioin.LoopPin = (*Pin)(nil)
	_ gpio.PinIO     = (*Pin)(nil)
)
