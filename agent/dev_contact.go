package agent

import (
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/contact"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
)

// contactDev is the `switch` and `contact` device: a debounced contact, a
// Home Assistant binary_sensor — ON while closed, or while open with
// invert (the default of a contact, whose door classes mean ON = open).
// The state read at the start is published, then every change.
type contactDev struct {
	spec *config.Contact
	hw   Hardware
	sim  *gpiointest.Pin
	sw   *contact.Switch // while run runs
}

func newContact(s *config.Contact, hw Hardware) (device, error) {
	d := &contactDev{spec: s, hw: hw}
	if s.Simulated() {
		// A simulated contact starts closed: a door shut, a window closed.
		d.sim = gpiointest.NewPin(s.Pin, !inactiveLevel(s.ActiveLow))
	}
	return d, nil
}

// on is the state Home Assistant sees for a closed or open contact.
func (d *contactDev) on(closed bool) bool { return closed != d.spec.Invert }

func (d *contactDev) run(t *loop.Task, env *devEnv) error {
	pin, err := inputPin(d.sim, d.hw, d.spec.Pin)
	if err != nil {
		return err
	}
	opts := []contact.Option{contact.WithDebounce(d.spec.Debounce),
		contact.WithInput(inputOptions(d.spec.Input)...),
		contact.OnEvent(func(e contact.Event) { env.state("", d.on(e.Closed), e.Time) }),
	}
	if !d.spec.ActiveLow {
		opts = append(opts, contact.ActiveHigh())
	}
	sw, err := contact.New(pin, opts...)
	if err != nil {
		return fmt.Errorf("pin %s: %w", d.spec.Pin, err)
	}
	d.sw = sw
	defer func() { d.sw = nil }()
	g := loop.NewGroup(t)
	g.Go("contact", sw.Run)
	g.Go("drain", func(t *loop.Task) error {
		for { // OnChange publishes; the queue is only emptied
			if _, err := sw.Events().Get(t); err != nil {
				return err
			}
		}
	})
	// The state at the start is read, not reported as a change: publish it.
	for !sw.Known() {
		if err := t.Sleep(5 * time.Millisecond); err != nil {
			return err
		}
	}
	env.ready()
	env.state("", d.on(sw.Closed()), env.now())
	if d.sim != nil && d.spec.Simulate != nil {
		g.Go("simulate", func(t *loop.Task) error {
			for {
				if err := t.Sleep(d.spec.Simulate.Every); err != nil {
					return err
				}
				d.sim.Set(!d.sim.Read())
			}
		})
	}
	return g.Wait(t)
}

func (d *contactDev) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// contactReading is what read says of a contact.
type contactReading struct {
	Closed bool   `json:"closed"`
	State  string `json:"state"` // what Home Assistant shows: ON or OFF
}

func (d *contactDev) read(*loop.Task, *devEnv) (any, error) {
	if d.sw == nil || !d.sw.Known() {
		return nil, fmt.Errorf("not read yet")
	}
	return contactReading{Closed: d.sw.Closed(), State: onOff(d.on(d.sw.Closed()))}, nil
}
