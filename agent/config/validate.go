package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgeagent/edgeagent/bridge/hass"
)

// crossCheck runs the checks that span devices or need the whole device:
// unique names and entities, one device per pin, port and I2C address,
// the board's pins and buses, and Home Assistant's rules for each value.
func (p *parser) crossCheck() {
	board := p.opts.board
	if board != nil {
		p.cfg.Board = board.Name()
	}
	names := map[string]*devParse{}
	entities := map[string]*devParse{}
	pins := map[string]use{}
	ports := map[string]use{}
	addrs := map[string]use{}
	for _, dp := range p.devs {
		dev := dp.dev
		if first, dup := names[dev.Name]; dup && dev.Name != "" {
			p.d.errorf(dp.namePos, dp.path+".name", "%q is also the name of %s (%s): names must be unique", dev.Name, first.path, first.namePos.short())
		} else {
			names[dev.Name] = dp
		}
		for _, v := range dev.Values {
			other, dup := entities[v.Entity]
			switch {
			case !dup:
				entities[v.Entity] = dp
			case other != dp && other.dev.Name != dev.Name: // equal names are reported above
				of := ""
				if v.Name != "" {
					of = fmt.Sprintf(" (of its value %s)", v.Name)
				}
				p.d.errorf(dp.namePos, dp.path+".name", "the id %q%s is also an id of %s (%s): rename one of the devices",
					v.Entity, of, other.path, other.namePos.short())
			}
		}
		real := !dev.Spec.Simulated() && board != nil
		for _, u := range dp.pins {
			key := u.name
			if real {
				c, err := board.Pin(u.name)
				if err != nil {
					p.d.errorf(u.pos, u.path, "%q is not a pin of this board (%v)", u.name, err)
					continue
				}
				key = c
			}
			if first, dup := pins[key]; dup {
				as := ""
				if first.name != u.name {
					as = ", as " + first.name
				}
				p.d.errorf(u.pos, u.path, "%s is also used by %s (%s)%s: a pin serves one device", u.name, first.path, first.pos.short(), as)
			} else {
				pins[key] = u
			}
		}
		for _, u := range dp.ports {
			if first, dup := ports[u.name]; dup {
				p.d.errorf(u.pos, u.path, "%s is also used by %s (%s): a serial port serves one device", u.name, first.path, first.pos.short())
			} else {
				ports[u.name] = u
			}
		}
		busKey := dp.bus.name
		if real && len(dp.i2c) > 0 {
			c, err := board.I2CBus(dp.bus.name)
			if err != nil {
				p.d.errorf(dp.bus.pos, dp.bus.path, "I2C bus %q is not a bus of this board (%v)", dp.bus.name, err)
			} else {
				busKey = c
			}
		}
		for _, u := range dp.i2c {
			_, addr, _ := strings.Cut(u.name, "/")
			key := busKey + "/" + addr
			if first, dup := addrs[key]; dup {
				p.d.errorf(u.pos, u.path+".address", "address %s on I2C bus %s is also used by %s (%s): give one of the chips its other address, or put it on another bus",
					addr, dp.bus.name, first.path, first.pos.short())
			} else {
				addrs[key] = u
			}
		}
		p.checkHomeAssistant(dp)
	}
}

// checkHomeAssistant checks every value of a device against Home
// Assistant's rules (package hass: device classes, units, state classes,
// event types), and reports a broken rule at the key that set it.
func (p *parser) checkHomeAssistant(dp *devParse) {
	dev := dp.dev
	if dev.Name == "" {
		return // reported as missing; nothing to name the entities by
	}
	for _, v := range dev.Values {
		if v.Kind == Event && len(v.EventTypes) == 0 {
			continue // an empty list of keys or event types is reported where it is set
		}
		c := hass.Common{ID: "e", Name: hass.Name(v.DisplayName), Icon: dev.Icon}
		if v.Diagnostic {
			c.EntityCategory = hass.CategoryDiagnostic
		}
		var e hass.Entity
		switch v.Platform {
		case hass.PlatformSensor:
			s := hass.Sensor{Common: c, DeviceClass: v.DeviceClass, Unit: v.Unit, StateClass: v.StateClass}
			if v.Precision >= 0 {
				s.SuggestedDisplayPrecision = hass.Precision(v.Precision)
			}
			e = s
		case hass.PlatformBinarySensor:
			e = hass.BinarySensor{Common: c, DeviceClass: v.DeviceClass}
		case hass.PlatformEvent:
			e = hass.Event{Common: c, DeviceClass: v.DeviceClass, EventTypes: v.EventTypes}
		case hass.PlatformSwitch:
			e = hass.Switch{Common: c, DeviceClass: v.DeviceClass}
		case hass.PlatformLight:
			modes := []string{hass.ColorModeOnOff}
			if l, ok := dev.Spec.(*LED); ok && l.PWM {
				modes = []string{hass.ColorModeBrightness}
			}
			e = hass.Light{Common: c, ColorModes: modes}
		default:
			continue
		}
		node := hass.Node{ID: "n", Device: hass.Device{Identifiers: []string{"n"}, Name: "n"},
			Origin: hass.Origin{Name: "edgeagent"}, Topics: hass.Layout{Base: "b"}, Entities: []hass.Entity{e}}
		_, err := node.Build()
		if err == nil {
			continue
		}
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, err := range errs {
			var fe *hass.FieldError
			if !errors.As(err, &fe) {
				p.d.errorf(dev.Pos, dp.path, "Home Assistant would refuse it: %v", err)
				continue
			}
			key := haKey(dev, v, fe.Key)
			path, at := dp.path, dev.Pos
			if o := dp.o; o != nil && key != "" && o.has(key) {
				path, at = o.at(key), o.keyPos(key)
				if _, vp, ok := o.get(key); ok {
					at = vp
				}
			}
			// hass writes "a event"; say it the way a reader expects.
			msg := strings.Replace(fe.Reason, " a event ", " an event ", 1)
			if v.Name != "" && !strings.HasSuffix(path, key) {
				msg = fmt.Sprintf("value %q: %s", v.Name, msg)
			}
			if key == "" || !strings.HasSuffix(path, key) || strings.Contains(fe.Key, "[") {
				msg = fmt.Sprintf("%s: %s", fe.Key, msg) // the discovery key, or which item of a list
			}
			p.d.errorf(at, path, "Home Assistant would refuse this: %s", msg)
		}
	}
}

// haKey maps a Home Assistant discovery key to the configuration key that
// sets it for a value.
func haKey(dev *Device, v Value, key string) string {
	switch {
	case key == "device_class" && v.Name == "motion":
		return "motion_device_class"
	case key == "device_class", key == "icon":
		return key
	case key == "unit_of_measurement":
		return "unit"
	case key == "state_class":
		return "state_class"
	case strings.HasPrefix(key, "event_types"):
		if dev.Type == TypeNECIR {
			return "keys"
		}
		return "event_types"
	}
	return ""
}
