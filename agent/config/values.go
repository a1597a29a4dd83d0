package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/edgeagent/edgeagent/agent/filter"
	"github.com/edgeagent/edgeagent/bridge/hass"
)

// values lists what a device publishes; Publish gets its defaults here and
// the device's publish key later.
func values(d *Device) []Value {
	one := func(v Value) []Value { return []Value{v} }
	switch s := d.Spec.(type) {
	case *Pushbutton:
		return one(Value{Kind: Event, Platform: hass.PlatformEvent, DeviceClass: s.DeviceClass, EventTypes: s.EventTypes(), Precision: -1})
	case *Contact:
		return one(Value{Kind: Binary, Platform: hass.PlatformBinarySensor, DeviceClass: s.DeviceClass, Precision: -1})
	case *LED:
		return one(Value{Kind: Light, Command: true, Platform: hass.PlatformLight, Precision: -1})
	case *Output:
		return one(Value{Kind: Binary, Command: true, Platform: hass.PlatformSwitch, DeviceClass: s.DeviceClass, Precision: -1})
	case *HTU21D:
		return []Value{
			{Name: "temperature", Kind: Numeric, Platform: hass.PlatformSensor, DeviceClass: "temperature", Unit: "°C", StateClass: hass.StateClassMeasurement, Precision: 1},
			{Name: "humidity", Kind: Numeric, Platform: hass.PlatformSensor, DeviceClass: "humidity", Unit: "%", StateClass: hass.StateClassMeasurement, Precision: 0},
		}
	case *ADXL345:
		axis := func(n string) Value {
			return Value{Name: n, Kind: Numeric, Platform: hass.PlatformSensor, Unit: "g", StateClass: hass.StateClassMeasurement, Precision: 3}
		}
		return []Value{axis("x"), axis("y"), axis("z"),
			{Name: "motion", Kind: Binary, Platform: hass.PlatformBinarySensor, DeviceClass: s.MotionDeviceClass, Precision: -1}}
	case *UARTLines:
		if s.As == LinesEvent {
			return one(Value{Kind: Event, Platform: hass.PlatformEvent, DeviceClass: s.DeviceClass, EventTypes: s.EventTypes, Command: s.Command, Precision: -1})
		}
		k := Text
		if s.Numeric {
			k = Numeric
		}
		return one(Value{Kind: k, Platform: hass.PlatformSensor, DeviceClass: s.DeviceClass, Unit: s.Unit, StateClass: s.StateClass, Command: s.Command, Precision: -1})
	case *ATModem:
		if s.SignalInterval == 0 {
			return nil
		}
		return one(Value{Name: "signal", Kind: Numeric, Platform: hass.PlatformSensor, DeviceClass: "signal_strength",
			Unit: "dBm", StateClass: hass.StateClassMeasurement, Precision: 0, Diagnostic: true})
	case *NECIR:
		return one(Value{Kind: Event, Platform: hass.PlatformEvent, DeviceClass: s.DeviceClass, EventTypes: s.EventTypes(), Precision: -1})
	case *System:
		var vs []Value
		for _, name := range s.Values {
			v := Value{Name: name, Kind: Numeric, Platform: hass.PlatformSensor, StateClass: hass.StateClassMeasurement, Diagnostic: true}
			switch name {
			case SystemCPUTemperature:
				v.DeviceClass, v.Unit, v.Precision = "temperature", "°C", 1
			case SystemLoad:
				v.Precision = 2
			case SystemUptime:
				v.DeviceClass, v.Unit, v.StateClass, v.Precision = "duration", "s", hass.StateClassTotalIncreasing, 0
			case SystemMemory:
				v.DeviceClass, v.Unit, v.Precision = "data_size", "MB", 1
			case SystemOutbox:
				v.Unit, v.Precision = "messages", 0
			case SystemDeviceErrors:
				v.Unit, v.Precision = "devices", 0
			}
			vs = append(vs, v)
		}
		return vs
	}
	return nil
}

// valueLabels are the display names of the values of multi-value devices.
func valueLabel(name string) string {
	switch name {
	case SystemCPUTemperature:
		return "CPU temperature"
	case "x", "y", "z":
		return strings.ToUpper(name)
	}
	return humanize(name)
}

// finishValues fills in the entity ids, display names and publish
// defaults.
func finishValues(d *Device) {
	multi := len(d.Values) > 1 || len(d.Values) == 1 && d.Values[0].Name != ""
	for i := range d.Values {
		v := &d.Values[i]
		v.Entity, v.DisplayName = d.Name, d.DisplayName
		if multi {
			v.Entity = d.Name + "_" + v.Name
			v.DisplayName = d.DisplayName + " " + lowerFirst(valueLabel(v.Name))
		}
		v.Publish = defaultPublish(v.Kind)
	}
}

// lowerFirst lower-cases the first letter of a label unless it starts an
// acronym ("Temperature" → "temperature", "CPU temperature" stays).
func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	next, _ := utf8.DecodeRuneInString(s[size:])
	if size == 0 || len(s) == size || unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(r)) + s[size:]
}

// defaultPublish is the publish default of a kind of value.
func defaultPublish(k Kind) Publish {
	if k == Event {
		return Publish{QoS: DefaultQoS, Delivery: DeliveryMaxAge, MaxAge: DefaultEventMaxAge}
	}
	return Publish{QoS: DefaultQoS, Retain: true, Delivery: DeliveryLatest}
}

// pubLayer is one publish mapping: the device's, or one value's section.
type pubLayer struct {
	o         *obj
	delta     *float64
	throttle  *time.Duration
	heartbeat *time.Duration
	average   *int
	median    *int
	round     *int
	qos       *int
	retain    *bool
	delivery  *Delivery
	maxAge    *time.Duration
}

// filterKeys are the publish keys of the filter chain.
func filterKeys() []string {
	return []string{"delta", "throttle", "heartbeat", "average", "median", "round"}
}

func readLayer(o *obj) *pubLayer {
	if o == nil {
		return nil
	}
	l := &pubLayer{o: o}
	var f float64
	if o.float("delta", &f, 0, 1e12) {
		l.delta = &f
	}
	var th, hb, ma time.Duration
	if o.duration("throttle", &th, 0, 24*time.Hour) {
		l.throttle = &th
	}
	if o.duration("heartbeat", &hb, 0, 24*time.Hour) {
		if hb > 0 && hb < time.Second {
			_, at, _ := o.get("heartbeat")
			o.errorf("heartbeat", at, "%v is shorter than 1s", hb)
		} else {
			l.heartbeat = &hb
		}
	}
	var avg, med, rnd, qos int
	if o.integer("average", &avg, 1, filter.MaxWindow) {
		l.average = &avg
	}
	if o.integer("median", &med, 1, filter.MaxWindow) {
		l.median = &med
	}
	if o.integer("round", &rnd, 0, filter.MaxRound) {
		l.round = &rnd
	}
	if o.integer("qos", &qos, 0, 2) {
		l.qos = &qos
	}
	var ret bool
	if o.boolean("retain", &ret) {
		l.retain = &ret
	}
	var del string
	if o.enum("delivery", &del, string(DeliveryLatest), string(DeliveryAll), string(DeliveryMaxAge)) {
		d := Delivery(del)
		l.delivery = &d
	}
	if o.duration("max_age", &ma, time.Second, 7*24*time.Hour) {
		l.maxAge = &ma
	}
	return l
}

// set reports whether the layer sets key.
func (l *pubLayer) set(key string) bool { return l != nil && l.o.has(key) }

// apply overrides pub with what the layer sets; without numeric, the
// number-only stages are left out (a device's round applies to its numeric
// values, not to its binary ones).
func (l *pubLayer) apply(pub *Publish, numeric bool) {
	if l == nil {
		return
	}
	f := &pub.Filter
	if l.delta != nil && (numeric || *l.delta == 0) {
		d := *l.delta // each value its own copy
		f.Delta = &d
	}
	if l.throttle != nil {
		f.Throttle = *l.throttle
	}
	if l.heartbeat != nil {
		f.Heartbeat = *l.heartbeat
	}
	if l.average != nil && numeric {
		f.Average, f.Median = *l.average, 0
	}
	if l.median != nil && numeric {
		f.Median = *l.median
		if l.average == nil {
			f.Average = 0 // a value's median replaces the device's average
		}
	}
	if l.round != nil && numeric {
		r := *l.round
		f.Round = &r
	}
	if l.qos != nil {
		pub.QoS = byte(*l.qos)
	}
	if l.retain != nil {
		pub.Retain = *l.retain
	}
	if l.delivery != nil {
		pub.Delivery = *l.delivery
		if pub.Delivery != DeliveryMaxAge {
			pub.MaxAge = 0
		} else if pub.MaxAge == 0 {
			pub.MaxAge = DefaultEventMaxAge
		}
	}
	if l.maxAge != nil {
		pub.MaxAge = *l.maxAge
		if l.delivery == nil {
			pub.Delivery = DeliveryMaxAge // max_age alone asks for it
		}
	}
}

// publish reads a device's publish key: the device's settings, and for a
// device with several values a section per value, which inherits them.
func (p *parser) publish(o *obj, dp *devParse) {
	dev := dp.dev
	finishValues(dev)
	po := o.sub("publish")
	if po == nil {
		return
	}
	multi := len(dev.Values) > 1 || len(dev.Values) == 1 && dev.Values[0].Name != ""
	base := readLayer(po)
	sections := map[string]*pubLayer{}
	if multi {
		for _, v := range dev.Values {
			sections[v.Name] = readLayer(po.sub(v.Name))
			if s := sections[v.Name]; s != nil {
				s.o.done()
			}
		}
	} else if len(dev.Values) == 0 {
		p.d.errorf(po.pos, po.path, "this device publishes nothing (its values are turned off)")
	}
	// Value names of the device's type that are turned off are still
	// recognised, with a better message than "unknown key".
	if sys, ok := dev.Spec.(*System); ok {
		for _, name := range SystemValues() {
			if !contains(sys.Values, name) {
				po.hint(name, fmt.Sprintf("%q is not among the system values reported (values: %s)", name, strings.Join(sys.Values, ", ")))
			}
		}
	}
	po.done()
	// The device's number-only settings skip its other values, unless it
	// has no numeric value at all: then they are a mistake, reported.
	hasNumeric := false
	for _, v := range dev.Values {
		hasNumeric = hasNumeric || v.Kind == Numeric
	}
	for i := range dev.Values {
		v := &dev.Values[i]
		sec := sections[v.Name]
		base.apply(&v.Publish, v.Kind == Numeric || !hasNumeric)
		sec.apply(&v.Publish, true)
		p.checkPublish(po, base, sec, v)
		if v.Precision < 0 && v.Kind == Numeric && v.Publish.Filter.Round != nil {
			v.Precision = *v.Publish.Filter.Round // show what is sent
		}
	}
}

// checkPublish reports a value's publish settings that contradict each
// other or its kind, at the key that set them.
func (p *parser) checkPublish(po *obj, base, sec *pubLayer, v *Value) {
	// at finds where a key was set: the value's section, else the device's
	// publish mapping.
	at := func(key string) (string, Pos) {
		for _, l := range []*pubLayer{sec, base} {
			if l.set(key) {
				_, pos, _ := l.o.get(key)
				return l.o.at(key), pos
			}
		}
		if sec != nil {
			return sec.o.path, sec.o.pos
		}
		return po.path, po.pos
	}
	what := "this device"
	if v.Name != "" {
		what = fmt.Sprintf("value %q", v.Name)
	}
	pub := &v.Publish
	if v.Kind == Event {
		for _, k := range filterKeys() {
			if base.set(k) || sec.set(k) {
				path, pos := at(k)
				p.d.errorf(pos, path, "%s publishes events, which are never filtered (only qos, retain: false, delivery and max_age apply)", what)
			}
		}
		if pub.Retain {
			path, pos := at("retain")
			p.d.errorf(pos, path, "events are never retained: Home Assistant discards retained events, and a replay would fire them again")
		}
	} else {
		for _, pr := range pub.Filter.Check(v.Kind == Numeric) {
			path, pos := at(pr.Key)
			msg := pr.Msg
			if strings.Contains(msg, "numeric") {
				msg += fmt.Sprintf(" (%s is %s)", what, v.Kind)
			}
			p.d.errorf(pos, path, "%s", msg)
		}
	}
	if pub.QoS == 0 && pub.Delivery != DeliveryLatest {
		path, pos := at("qos")
		p.d.errorf(pos, path, "qos 0 messages are not kept during an outage, so delivery %s cannot hold: use qos 1", pub.Delivery)
	}
	if pub.Delivery != DeliveryMaxAge && (base.set("max_age") || sec.set("max_age")) {
		path, pos := at("max_age")
		p.d.errorf(pos, path, "applies only to delivery: max_age (delivery is %s)", pub.Delivery)
	}
}
