package agent

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/drivers/led"
	"github.com/edgeagent/edgeagent/loop"
)

// ledDev is the `led` device: a Home Assistant light (JSON schema) — on,
// off, brightness where the pin has PWM, and the blink and heartbeat effects
// played by the driver's task.
type ledDev struct {
	spec   *config.LED
	hw     Hardware
	sim    *gpiotest.Pin
	d      *led.LED // while run runs
	target lightTarget
}

// lightState is a light's state payload: Home Assistant's JSON schema, and
// the time it was set.
type lightState struct {
	State      string `json:"state"`
	Brightness int    `json:"brightness,omitempty"`
	ColorMode  string `json:"color_mode"`
	Effect     string `json:"effect,omitempty"`
	Time       string `json:"time"`
}

// ledEntities makes the light's entity say what the LED can do.
type ledEntities struct{}

func (ledEntities) entities(d *config.Device, es []hass.Entity) []hass.Entity {
	s := d.Spec.(*config.LED)
	for i, e := range es {
		if l, ok := e.(hass.Light); ok {
			l.ColorModes = []string{hass.ColorModeOnOff}
			if s.PWM {
				l.ColorModes = []string{hass.ColorModeBrightness}
			}
			l.Effects = s.Effects() // those configured: blink, heartbeat
			es[i] = l
		}
	}
	return es
}

func newLED(s *config.LED, hw Hardware) (device, error) {
	d := &ledDev{spec: s, hw: hw, target: lightTarget{bright: 255}}
	if s.Simulated() {
		d.sim = &gpiotest.Pin{N: s.Pin, L: gpio.Low}
	}
	return d, nil
}

func (d *ledDev) run(t *loop.Task, env *devEnv) error {
	var pin gpio.PinOut = d.sim
	if d.sim == nil {
		p, err := d.hw.Pin(d.spec.Pin)
		if err != nil {
			return err
		}
		pin = p
	}
	var opts []led.Option
	if d.spec.ActiveLow {
		opts = append(opts, led.ActiveLow())
	}
	if d.spec.PWMFrequency > 0 {
		opts = append(opts, led.WithPWMFrequency(d.spec.PWMFrequency))
	}
	l, err := led.New(pin, opts...)
	if err != nil {
		return fmt.Errorf("pin %s: %w", d.spec.Pin, err)
	}
	d.d = l
	defer func() { d.d = nil }()
	if err := d.apply(); err != nil { // the state before a restart
		return err
	}
	env.ready()
	env.state("", d.state(), env.now())
	return l.Run(t)
}

// apply shows the device's state on the LED.
func (d *ledDev) apply() error {
	tg := d.target
	if tg.effect != "" {
		p, err := ledPattern(d.spec, tg.effect)
		if err != nil {
			return err
		}
		return d.d.Play(p)
	}
	if !tg.on {
		return d.d.Off()
	}
	if d.spec.PWM {
		return d.d.SetBrightness(float64(tg.bright) / 255)
	}
	return d.d.On()
}

// ledPattern is the pattern of an effect the LED offers.
func ledPattern(s *config.LED, effect string) (led.Pattern, error) {
	switch {
	case effect == "blink" && s.Blink != nil:
		return led.Blinking(s.Blink.On, s.Blink.Off, 0), nil
	case effect == "heartbeat" && s.Heartbeat != nil:
		return led.Heartbeat(s.Heartbeat.Period), nil
	}
	return led.Pattern{}, fmt.Errorf("effect %q is not offered (effects: %s)", effect, strings.Join(s.Effects(), ", "))
}

func (d *ledDev) state() lightState {
	tg := d.target
	s := lightState{State: onOff(tg.on), ColorMode: hass.ColorModeOnOff, Effect: tg.effect}
	if d.spec.PWM {
		s.ColorMode = hass.ColorModeBrightness
		if tg.on {
			s.Brightness = tg.bright
		}
	}
	return s
}

// lightCommand is a command of Home Assistant's JSON schema.
type lightCommand struct {
	State      string   `json:"state"`
	Brightness *float64 `json:"brightness"`
	Effect     *string  `json:"effect"`
}

// lightTarget is what an LED should show.
type lightTarget struct {
	on     bool
	bright int // 0–255, the brightness when on
	effect string
}

// parseLightCommand reads a command of Home Assistant's JSON schema
// ({"state": "ON", "brightness": 128, "effect": "blink"}) or, for people
// typing, ON, OFF and TOGGLE, and returns what the LED should show instead
// of cur. It is pure, so every payload can be tried on it (FuzzCommands).
func parseLightCommand(payload []byte, cur lightTarget, s *config.LED) (lightTarget, error) {
	var c lightCommand
	if p := strings.TrimSpace(string(payload)); !strings.HasPrefix(p, "{") {
		on, err := parseOnOff(payload, cur.on)
		if err != nil {
			return cur, fmt.Errorf(`%w, or JSON such as {"state": "ON", "brightness": 128}`, err)
		}
		c.State = onOff(on)
	} else if err := json.Unmarshal(payload, &c); err != nil {
		return cur, fmt.Errorf("not a light command: %w", err)
	}
	next := cur
	switch strings.ToUpper(c.State) {
	case "ON":
		next.on = true
	case "OFF":
		next.on, next.effect = false, ""
	case "":
	default:
		return cur, fmt.Errorf(`"state": expected ON or OFF, got %q`, c.State)
	}
	if c.Brightness != nil {
		b := *c.Brightness
		if math.IsNaN(b) || b < 0 || b > 255 {
			return cur, fmt.Errorf(`"brightness" %v is out of range (0 to 255)`, b)
		}
		if !s.PWM && b > 0 && b < 255 {
			return cur, fmt.Errorf(`"brightness" needs pwm: true for this LED (%s)`, s.Pin)
		}
		next.bright = int(math.Round(b))
		next.on = next.bright > 0
		if next.bright == 0 {
			next.bright = cur.bright // off keeps the brightness for the next on
		}
	}
	switch {
	case c.Effect != nil && *c.Effect != "" && *c.Effect != "none":
		if _, err := ledPattern(s, *c.Effect); err != nil {
			return cur, err
		}
		next.effect, next.on = *c.Effect, true
	case c.Effect != nil, c.State != "" || c.Brightness != nil:
		next.effect = ""
	}
	return next, nil
}

// command carries out a light command and publishes the new state.
func (d *ledDev) command(_ *loop.Task, env *devEnv, _ *config.Value, payload []byte) error {
	next, err := parseLightCommand(payload, d.target, d.spec)
	if err != nil {
		return err
	}
	if d.d == nil {
		return fmt.Errorf("pin %s is not open", d.spec.Pin)
	}
	prev := d.target
	d.target = next
	if err := d.apply(); err != nil {
		d.target = prev
		return err
	}
	env.state("", d.state(), env.now())
	return nil
}

func (d *ledDev) read(*loop.Task, *devEnv) (any, error) {
	s := d.state()
	s.Time = ""
	return s, nil
}
