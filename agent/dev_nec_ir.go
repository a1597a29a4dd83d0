package agent

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/drivers/nec/nectest"
	"github.com/edgeagent/edgeagent/loop"
)

// necIR is the `nec_ir` device: an NEC infra-red receiver whose keys are a
// Home Assistant event each, named by the configuration. A held key is one
// event, or with repeat: repeat the key's event again with each repeat code
// once held for repeat_delay. Codes of no key are the event "unknown" with
// their address and command, when report_unknown asks for it.
type necIR struct {
	spec *config.NECIR
	hw   Hardware
	sim  *gpiointest.Pin
	rx   *nec.Receiver // while run runs

	held     string    // the key whose repeats are coming
	heldFrom time.Time // when its frame came
	last     string    // the last key, for read
	errors   uint64
}

func newNECIR(s *config.NECIR, hw Hardware) (device, error) {
	d := &necIR{spec: s, hw: hw}
	if s.Simulated() {
		d.sim = gpiointest.NewPin(s.Pin, gpio.High) // a receiver module idles high
	}
	return d, nil
}

func (d *necIR) run(t *loop.Task, env *devEnv) error {
	pin, err := inputPin(d.sim, d.hw, d.spec.Pin)
	if err != nil {
		return err
	}
	opts := []nec.Option{nec.OnEvent(func(r nec.Received) { d.received(env, r) })}
	if d.spec.Extended {
		opts = append(opts, nec.AcceptExtended())
	}
	rx, err := nec.New(pin, opts...)
	if err != nil {
		return fmt.Errorf("pin %s: %w", d.spec.Pin, err)
	}
	d.rx = rx
	defer func() { d.rx = nil }()
	g := loop.NewGroup(t)
	g.Go("nec", rx.Run)
	g.Go("drain", func(t *loop.Task) error {
		for { // OnReceive publishes; the queue is only emptied
			if _, err := rx.Events().Get(t); err != nil {
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

// received turns one decoded burst into an event, or nothing.
func (d *necIR) received(env *devEnv, r nec.Received) {
	switch {
	case r.Err != nil:
		d.errors++
		env.log.Debug("IR burst not decoded", "err", r.Err)
		return
	case r.Frame.Repeat:
		if d.held == "" || d.spec.Repeat != config.RepeatRepeat || r.Time.Sub(d.heldFrom) < d.spec.RepeatDelay {
			return
		}
		env.event("", d.held, map[string]any{"repeat": true}, r.Time)
		return
	}
	name, ok := d.spec.Key(r.Frame.Address, r.Frame.Command)
	if !ok {
		d.held = ""
		if d.spec.ReportUnknown {
			env.event("", config.EventUnknown, map[string]any{
				"address": fmt.Sprintf("0x%02x", r.Frame.Address), "command": fmt.Sprintf("0x%02x", r.Frame.Command)}, r.Time)
		}
		return
	}
	d.held, d.heldFrom, d.last = name, r.Time, name
	env.event("", name, nil, r.Time)
}

// simulate presses the configured keys in turn, one every Every.
func (d *necIR) simulate(t *loop.Task) error {
	sim := d.spec.Simulate
	remote := nectest.NewRemote(d.sim)
	for i := 0; ; i = (i + 1) % len(sim.Sequence) {
		if err := t.Sleep(sim.Every); err != nil {
			return err
		}
		var key config.NECKey
		for _, k := range d.spec.Keys {
			if k.Name == sim.Sequence[i] {
				key = k
			}
		}
		if err := remote.Send(t, key.Address, key.Command); err != nil {
			return fmt.Errorf("simulate: key %s: %w", key.Name, err)
		}
	}
}

func (d *necIR) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// irReading is what read says of an IR receiver.
type irReading struct {
	LastKey string `json:"last_key,omitempty"`
	Frames  uint64 `json:"frames"`
	Repeats uint64 `json:"repeats"`
	Errors  uint64 `json:"errors"`
}

func (d *necIR) read(*loop.Task, *devEnv) (any, error) {
	r := irReading{LastKey: d.last, Errors: d.errors}
	if d.rx != nil {
		s := d.rx.Stats()
		r.Frames, r.Repeats = s.Frames, s.Repeats
	}
	return r, nil
}
