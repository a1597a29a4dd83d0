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
	on     bool
	bright int // 0–255, the brightness when on
	effect string
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
			// TODO(bridge/hass): announce effect_list (blink, heartbeat)
			// once hass.Light has it; the effects work through commands.
			es[i] = l
		}
	}
	return es
}

func newLED(s *config.LED, hw Hardware) (device, error) {
	d := &ledDev{spec: s, hw: hw, bright: 255}
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
	if d.effect != "" {
		p, err := d.pattern(d.effect)
		if err != nil {
			return err
		}
		return d.d.Play(p)
	}
	if !d.on {
		return d.d.Off()
	}
	if d.spec.PWM {
		return d.d.SetBrightness(float64(d.bright) / 255)
	}
	return d.d.On()
}

func (d *ledDev) pattern(effect string) (led.Pattern, error) {
	switch {
	case effect == "blink" && d.spec.Blink != nil:
		return led.Blinking(d.spec.Blink.On, d.spec.Blink.Off, 0), nil
	case effect == "heartbeat" && d.spec.Heartbeat != nil:
		return led.Heartbeat(d.spec.Heartbeat.Period), nil
	}
	return led.Pattern{}, fmt.Errorf("effect %q is not offered (effects: %s)", effect, strings.Join(d.spec.Effects(), ", "))
}

func (d *ledDev) state() lightState {
	s := lightState{State: onOff(d.on), ColorMode: hass.ColorModeOnOff, Effect: d.effect}
	if d.spec.PWM {
		s.ColorMode = hass.ColorModeBrightness
		if d.on {
			s.Brightness = d.bright
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

// command takes the JSON schema's commands ({"state": "ON", "brightness":
// 128, "effect": "blink"}) and, for people typing, ON, OFF and TOGGLE.
func (d *ledDev) command(_ *loop.Task, env *devEnv, _ *config.Value, payload []byte) error {
	var c lightCommand
	if p := strings.TrimSpace(string(payload)); !strings.HasPrefix(p, "{") {
		on, err := parseOnOff(payload, d.on)
		if err != nil {
			return fmt.Errorf(`%w, or JSON such as {"state": "ON", "brightness": 128}`, err)
		}
		c.State = onOff(on)
	} else if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("not a light command: %w", err)
	}
	on, bright, effect := d.on, d.bright, d.effect
	switch strings.ToUpper(c.State) {
	case "ON":
		on = true
	case "OFF":
		on, effect = false, ""
	case "":
	default:
		return fmt.Errorf(`"state": expected ON or OFF, got %q`, c.State)
	}
	if c.Brightness != nil {
		b := *c.Brightness
		if math.IsNaN(b) || b < 0 || b > 255 {
			return fmt.Errorf(`"brightness" %v is out of range (0 to 255)`, b)
		}
		if !d.spec.PWM && b > 0 && b < 255 {
			return fmt.Errorf(`"brightness" needs pwm: true for this LED (%s)`, d.spec.Pin)
		}
		bright = int(math.Round(b))
		on = bright > 0
		if bright == 0 {
			bright = d.bright // off keeps the brightness for the next on
		}
	}
	if c.Effect != nil {
		if *c.Effect != "" && *c.Effect != "none" {
			if _, err := d.pattern(*c.Effect); err != nil {
				return err
			}
			effect, on = *c.Effect, true
		} else {
			effect = ""
		}
	} else if c.State != "" || c.Brightness != nil {
		effect = ""
	}
	if d.d == nil {
		return fmt.Errorf("pin %s is not open", d.spec.Pin)
	}
	prevOn, prevBright, prevEffect := d.on, d.bright, d.effect
	d.on, d.bright, d.effect = on, bright, effect
	if err := d.apply(); err != nil {
		d.on, d.bright, d.effect = prevOn, prevBright, prevEffect
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
