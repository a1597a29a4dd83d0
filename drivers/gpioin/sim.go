package gpioin

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// A LoopPin is an input pin that reports its own level changes on the loop,
// with no goroutine: a simulated pin, or a pin of an I/O expander read by a
// loop task. Input.Run subscribes to it instead of waiting for edges, unless
// polling is forced.
type LoopPin interface {
	gpio.PinIn
	// Subscribe arranges for fn to be called on l, at the time of each level
	// change, with the edge stamped with l's clock, until cancel is called.
	// It is called on l.
	Subscribe(l *loop.Loop, fn func(Edge)) (cancel func())
}

// A SimPin is a simulated pin for tests and demos: a task sets its level at
// exact loop times (virtual ones in tests), and every Input watching it gets
// the edge at once, stamped with the loop's clock. It implements LoopPin and
// gpio.PinIO; Out is Set, so it can stand for an output too.
//
// Set and Play are called on the loop of the Inputs watching the pin; Read
// and the other gpio.PinIn methods are safe from any goroutine. An Input sees
// edges from when its Run has subscribed: a test starts the driver's task,
// yields once (t.Yield) so it runs, then plays its script.
type SimPin struct {
	name string

	// NoEdges makes In fail when edge detection is asked for, like a pin
	// without interrupts: an Input in Auto mode then polls it. Set it before
	// Run.
	NoEdges bool

	mu    sync.Mutex
	level gpio.Level
	pull  gpio.Pull
	edge  gpio.Edge

	subs []*simSub // loop side
}

type simSub struct {
	l  *loop.Loop
	fn func(Edge)
}

// NewSimPin returns a simulated pin named name, at level initial.
func NewSimPin(name string, initial gpio.Level) *SimPin {
	return &SimPin{name: name, level: initial}
}

// Set sets the pin's level. If it changed, every subscribed Input sees an
// edge stamped with its loop's current time, before Set returns.
func (p *SimPin) Set(level gpio.Level) {
	p.mu.Lock()
	changed := p.level != level
	p.level = level
	p.mu.Unlock()
	if !changed {
		return
	}
	for _, s := range append([]*simSub(nil), p.subs...) {
		s.fn(Edge{Level: level, Time: s.l.Now()})
	}
}

// Step is one level change of a script played by Play: the pin goes to
// Level At after the start of Play.
type Step struct {
	At    time.Duration
	Level gpio.Level
}

// Play sets the levels of steps at their times, measured from the call, on
// t's clock; steps must be in time order. It returns when the last step is
// done, or t's interruption.
func (p *SimPin) Play(t *loop.Task, steps ...Step) error {
	l := t.Loop()
	start := l.Now()
	for i, s := range steps {
		if i > 0 && s.At < steps[i-1].At {
			return fmt.Errorf("gpioin: SimPin %s: Play: step %d at %v comes before step %d at %v", p.name, i, s.At, i-1, steps[i-1].At)
		}
		if wait := start.Add(s.At).Sub(l.Now()); wait > 0 {
			if err := t.Sleep(wait); err != nil {
				return err
			}
		}
		p.Set(s.Level)
	}
	return nil
}

// Subscribe implements LoopPin.
func (p *SimPin) Subscribe(l *loop.Loop, fn func(Edge)) (cancel func()) {
	s := &simSub{l: l, fn: fn}
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
func (p *SimPin) String() string { return "sim:" + p.name }

// Halt implements conn.Resource; it does nothing.
func (p *SimPin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *SimPin) Name() string { return p.name }

// Number implements pin.Pin: a SimPin has no number.
func (p *SimPin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *SimPin) Function() string { return "In/Out" }

// In implements gpio.PinIn. It records pull and edge; the level is the
// simulation's, not the pull's. With NoEdges set, edge detection fails.
func (p *SimPin) In(pull gpio.Pull, edge gpio.Edge) error {
	if p.NoEdges && edge != gpio.NoEdge {
		return fmt.Errorf("gpioin: SimPin %s: no edge detection (NoEdges is set)", p.name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	return nil
}

// Read implements gpio.PinIn.
func (p *SimPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn. A SimPin reports its edges on the loop
// (Subscribe), so it has none to wait for: it returns false at once.
func (p *SimPin) WaitForEdge(time.Duration) bool { return false }

// Pull implements gpio.PinIn.
func (p *SimPin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *SimPin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut: it is Set, and must be called on the loop.
func (p *SimPin) Out(l gpio.Level) error {
	p.Set(l)
	return nil
}

// PWM implements gpio.PinOut: a SimPin has no PWM.
func (p *SimPin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("gpioin: SimPin " + p.name + ": no PWM")
}

var (
	_ LoopPin    = (*SimPin)(nil)
	_ gpio.PinIO = (*SimPin)(nil)
)
