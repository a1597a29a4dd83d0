package agent

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
)

// pushbutton is the `pushbutton` device: a momentary button whose gestures
// become one Home Assistant event each — single, double or long. The
// driver runs with Suppress, so a long press is not also a single and the
// first press of a double is not a single (a single is sent when the
// double-click window has closed).
type pushbutton struct {
	spec *config.Pushbutton
	hw   Hardware
	sim  *gpiointest.Pin // the simulated pin; nil on hardware
	btn  *button.Button  // while run runs
}

func newPushbutton(s *config.Pushbutton, hw Hardware) (device, error) {
	d := &pushbutton{spec: s, hw: hw}
	if s.Simulated() {
		d.sim = gpiointest.NewPin(s.Pin, inactiveLevel(s.ActiveLow))
	}
	return d, nil
}

// inactiveLevel is the level of an input at rest: high when it is active
// low.
func inactiveLevel(activeLow bool) gpio.Level { return gpio.Level(activeLow) }

// inputOptions are the gpioin options of an input device.
func inputOptions(in config.Input) []gpioin.Option {
	opts := []gpioin.Option{gpioin.WithPull(in.Pull)}
	if in.Mode != gpioin.Auto {
		opts = append(opts, gpioin.WithMode(in.Mode))
	}
	if in.Mode != gpioin.Edges {
		opts = append(opts, gpioin.WithPollPeriod(in.PollPeriod))
	}
	return opts
}

// inputPin returns the device's pin: its simulated twin, or the hardware's.
func inputPin(sim *gpiointest.Pin, hw Hardware, name string) (gpio.PinIn, error) {
	if sim != nil {
		return sim, nil
	}
	return hw.Pin(name)
}

func (d *pushbutton) run(t *loop.Task, env *devEnv) error {
	pin, err := inputPin(d.sim, d.hw, d.spec.Pin)
	if err != nil {
		return err
	}
	opts := []button.Option{button.Suppress(),
		button.WithDebounce(d.spec.Debounce),
		button.WithDoubleClick(d.spec.DoubleClick),
		button.WithLongPress(d.spec.LongPress),
		button.WithInput(inputOptions(d.spec.Input)...),
		button.OnEvent(func(e button.Event) {
			if g, ok := gesture(e.Kind); ok {
				env.event("", string(g), nil, e.Time)
			}
		}),
	}
	if !d.spec.ActiveLow {
		opts = append(opts, button.ActiveHigh())
	}
	b, err := button.New(pin, opts...)
	if err != nil {
		return fmt.Errorf("pin %s: %w", d.spec.Pin, err)
	}
	d.btn = b
	defer func() { d.btn = nil }()
	g := loop.NewGroup(t)
	g.Go("button", b.Run)
	g.Go("drain", func(t *loop.Task) error {
		// OnEvent publishes; the queue is only emptied.
		for {
			if _, err := b.Events().Get(t); err != nil {
				return err
			}
		}
	})
	if d.sim != nil && d.spec.Simulate != nil {
		g.Go("simulate", func(t *loop.Task) error { return d.simulate(t) })
	}
	env.ready()
	return g.Wait(t)
}

// gesture maps the driver's events under Suppress to Home Assistant's
// event types; Press is not one.
func gesture(k button.Kind) (config.Gesture, bool) {
	switch k {
	case button.Release:
		return config.GestureSingle, true
	case button.DoubleClick:
		return config.GestureDouble, true
	case button.LongPress:
		return config.GestureLong, true
	}
	return "", false
}

// simulate presses the simulated button in the configured pattern.
func (d *pushbutton) simulate(t *loop.Task) error {
	sim := d.spec.Simulate
	if err := d.sim.WaitWatched(t); err != nil { // the driver watches the pin
		return err
	}
	next := t.Loop().Now()
	for i := 0; ; i = (i + 1) % len(sim.Gestures) {
		// One gesture starts every Every, however long the last one took.
		next = next.Add(sim.Every)
		if err := t.Sleep(next.Sub(t.Loop().Now())); err != nil {
			return err
		}
		if err := d.sim.Play(t, gestureSteps(sim.Gestures[i], d.spec)...); err != nil {
			return err
		}
	}
}

// gestureSteps are the pin levels of one gesture, timed well inside the
// button's settings.
func gestureSteps(g config.Gesture, s *config.Pushbutton) []gpiointest.Step {
	down, up := !inactiveLevel(s.ActiveLow), inactiveLevel(s.ActiveLow)
	click := s.Debounce + 50*time.Millisecond
	switch g {
	case config.GestureDouble:
		gap := s.Debounce + 50*time.Millisecond
		return []gpiointest.Step{{At: 0, Level: down}, {At: click, Level: up},
			{At: click + gap, Level: down}, {At: 2*click + gap, Level: up}}
	case config.GestureLong:
		return []gpiointest.Step{{At: 0, Level: down}, {At: s.LongPress + 200*time.Millisecond, Level: up}}
	}
	return []gpiointest.Step{{At: 0, Level: down}, {At: click, Level: up}}
}

func (d *pushbutton) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// buttonReading is what read says of a pushbutton.
type buttonReading struct {
	Pressed bool   `json:"pressed"`
	Input   string `json:"input"` // how the pin is watched: edges, polling, on the loop
}

func (d *pushbutton) read(*loop.Task, *devEnv) (any, error) {
	if d.btn == nil {
		return nil, errNotRunning
	}
	return buttonReading{Pressed: d.btn.Pressed(), Input: d.btn.Input().Mode().String()}, nil
}
