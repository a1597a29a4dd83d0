package agent

import (
	"fmt"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/loop"
)

// outputDev is the `output` and `relay` device: one GPIO output, a Home
// Assistant switch. A set command (ON, OFF, TOGGLE) switches the pin, and
// the new state is published once the pin has it. The state set last
// survives a restart of the device's task; Initial applies at the start.
type outputDev struct {
	spec *config.Output
	hw   Hardware
	sim  *gpiotest.Pin // the simulated pin; nil on hardware
	pin  gpio.PinIO    // open while run runs
	on   bool
	set  bool // on has been set (by Initial or a command)
}

func newOutputDev(s *config.Output, hw Hardware) (device, error) {
	d := &outputDev{spec: s, hw: hw}
	if s.Simulated() {
		d.sim = &gpiotest.Pin{N: s.Pin, L: gpio.Low}
	}
	return d, nil
}

// level is the pin level for on or off.
func (d *outputDev) level(on bool) gpio.Level {
	return gpio.Level(on != d.spec.ActiveLow)
}

func (d *outputDev) run(t *loop.Task, env *devEnv) error {
	if d.sim != nil {
		d.pin = d.sim
	} else {
		p, err := d.hw.Pin(d.spec.Pin)
		if err != nil {
			return err
		}
		d.pin = p
	}
	defer func() { d.pin = nil }()
	if !d.set {
		d.on, d.set = d.spec.Initial, true
	}
	if err := d.pin.Out(d.level(d.on)); err != nil {
		return fmt.Errorf("pin %s: %w", d.spec.Pin, err)
	}
	env.ready()
	env.state("", d.on, env.now())
	var never loop.WaitQueue
	return never.Wait(t)
}

// parseOnOff reads a switch command: ON, OFF or TOGGLE (any case).
func parseOnOff(payload []byte, current bool) (bool, error) {
	switch strings.ToUpper(strings.TrimSpace(string(payload))) {
	case "ON":
		return true, nil
	case "OFF":
		return false, nil
	case "TOGGLE":
		return !current, nil
	}
	return false, fmt.Errorf("expected ON, OFF or TOGGLE, got %q", truncate(payload, 40))
}

// truncate shortens a payload for a message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func (d *outputDev) command(_ *loop.Task, env *devEnv, _ *config.Value, payload []byte) error {
	on, err := parseOnOff(payload, d.on)
	if err != nil {
		return err
	}
	if d.pin == nil {
		return fmt.Errorf("pin %s is not open", d.spec.Pin)
	}
	if err := d.pin.Out(d.level(on)); err != nil {
		env.failing(fmt.Errorf("pin %s: %w", d.spec.Pin, err))
		return err
	}
	d.on = on
	env.state("", on, env.now())
	return nil
}

// outputReading is what read says of an output.
type outputReading struct {
	On    bool   `json:"on"`
	Level string `json:"level"` // the pin's level: High or Low
}

func (d *outputDev) read(*loop.Task, *devEnv) (any, error) {
	return outputReading{On: d.on, Level: d.level(d.on).String()}, nil
}
