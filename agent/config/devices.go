package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/drivers/uart"
)

// use is one device's claim on a pin, bus address or port.
type use struct {
	name string // normalised
	pos  Pos
	path string
}

// devParse is what the cross checks need of one device.
type devParse struct {
	dev     *Device
	o       *obj // the device's mapping, for the places of its keys
	path    string
	namePos Pos
	pins    []use
	i2c     []use // name is "bus/address"
	bus     use   // the bus alone, for the board check
	ports   []use
}

// reservedLevels are the node's own topic levels, which an entity id may not
// take (see the bridge's topic layout).
func reservedLevels() []string {
	return []string{"availability", "status", "error", "req", "res", "reply"}
}

func (p *parser) devices(root *obj) {
	items, pos, ok := root.list("devices")
	if !ok {
		if !root.present("devices") {
			root.missing("devices", "list the devices, such as - {name: host, type: system} (see the example config)")
		}
		return
	}
	for i, n := range items {
		p.device(fmt.Sprintf("devices[%d]", i), pos[i], n)
	}
}

func (p *parser) device(path string, at Pos, n ast.Node) {
	if isNull(n) {
		p.d.errorf(at, path, "empty device: give at least its name and type")
		return
	}
	o := p.d.object(path, at, n)
	if o == nil {
		return
	}
	dev := &Device{Pos: o.pos}
	dp := &devParse{dev: dev, o: o, path: path}

	if o.str("name", &dev.Name) {
		_, np, _ := o.get("name")
		dp.namePos = np
		if msg := checkDeviceName(dev.Name); msg != "" {
			o.errorf("name", np, "%q %s", dev.Name, msg)
		}
	} else {
		o.missing("name", "a unique name of a-z, 0-9, _ and -, such as \"doorbell\"")
		dp.namePos = o.pos
	}
	var typ string
	types := make([]string, 0, 12)
	for _, t := range Types() {
		types = append(types, string(t))
	}
	if !o.has("type") {
		o.present("type")
		o.missing("type", "one of "+strings.Join(types, ", "))
		return // without a type its keys cannot be checked
	}
	if !o.enum("type", &typ, types...) {
		return
	}
	dev.Type = Type(typ)
	if o.str("display_name", &dev.DisplayName) {
		_, vp, _ := o.get("display_name")
		if strings.TrimSpace(dev.DisplayName) == "" {
			o.errorf("display_name", vp, "empty or blank: leave the key out to derive it from the name")
		}
	}
	if dev.DisplayName == "" {
		dev.DisplayName = humanize(dev.Name)
	}
	if o.str("icon", &dev.Icon) {
		_, vp, _ := o.get("icon")
		if prefix, rest, ok := strings.Cut(dev.Icon, ":"); !ok || prefix == "" || rest == "" || strings.ContainsAny(dev.Icon, " \t") {
			o.errorf("icon", vp, "%q must look like prefix:name, such as \"mdi:doorbell\"", dev.Icon)
		}
	}

	switch dev.Type {
	case TypePushbutton:
		dev.Spec = p.pushbutton(o, dp)
	case TypeSwitch, TypeContact:
		dev.Spec = p.contact(o, dp, dev.Type == TypeContact)
	case TypeLED:
		dev.Spec = p.led(o, dp)
	case TypeOutput, TypeRelay:
		dev.Spec = p.output(o, dp)
	case TypeHTU21D:
		dev.Spec = p.htu21d(o, dp)
	case TypeADXL345:
		dev.Spec = p.adxl345(o, dp)
	case TypeUARTLines:
		dev.Spec = p.uartLines(o, dp)
	case TypeATModem:
		dev.Spec = p.atModem(o, dp)
	case TypeNECIR:
		dev.Spec = p.necIR(o, dp)
	case TypeSystem:
		dev.Spec = p.system(o, dp)
	}
	dev.Values = values(dev)
	p.publish(o, dp)
	o.done()
	p.cfg.Devices = append(p.cfg.Devices, dev)
	p.devs = append(p.devs, dp)
}

// checkDeviceName says what is wrong with a device name, or "".
func checkDeviceName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 64:
		return "is longer than 64 characters"
	case contains(reservedLevels(), s):
		return fmt.Sprintf("is one of the node's own topic levels (%s)", strings.Join(reservedLevels(), ", "))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "may use only a-z, 0-9, _ and - (it is a topic level and part of Home Assistant's ids)"
		}
	}
	return ""
}

// humanize turns a name into a display name: "door_contact" → "Door
// contact".
func humanize(name string) string {
	s := strings.TrimSpace(strings.NewReplacer("_", " ", "-", " ").Replace(name))
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return name // only separators: keep them rather than show nothing
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// simulate reads the simulate key: true or a mapping of parameters
// simulate (an empty mapping for true), false or absent the hardware.
func (p *parser) simulate(o *obj) (*obj, bool) {
	n, at, ok := o.get("simulate")
	if !ok {
		return nil, false
	}
	if b, isBool := n.(*ast.BoolNode); isBool {
		if !b.Value {
			return nil, false
		}
		return p.d.object(o.at("simulate"), at, nil), true
	}
	so := p.d.object(o.at("simulate"), at, n)
	return so, so != nil
}

// pin reads a required pin key.
func (p *parser) pin(o *obj, key string, dp *devParse) string {
	n, at, ok := o.get(key)
	if !ok {
		o.missing(key, "the GPIO, such as \"GPIO17\"")
		return ""
	}
	s, ok := p.d.text(o.at(key), at, n)
	if !ok {
		return ""
	}
	name, err := normalizePin(s)
	if err != nil {
		o.errorf(key, at, "%v", err)
		return ""
	}
	dp.pins = append(dp.pins, use{name: name, pos: at, path: o.at(key)})
	return name
}

// input reads the keys of a GPIO input.
func (p *parser) input(o *obj, dp *devParse) Input {
	in := Input{ActiveLow: true, Debounce: DefaultDebounce, Mode: gpioin.Auto, PollPeriod: DefaultPollPeriod}
	in.Pin = p.pin(o, "pin", dp)
	o.boolean("active_low", &in.ActiveLow)
	in.Pull = gpio.PullDown
	if in.ActiveLow {
		in.Pull = gpio.PullUp
	}
	var pull string
	if o.enum("pull", &pull, "up", "down", "none") {
		in.Pull = map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float}[pull]
	}
	o.duration("debounce", &in.Debounce, 0, time.Second)
	var mode string
	if o.enum("input", &mode, "auto", "edges", "polling") {
		in.Mode = map[string]gpioin.Mode{"auto": gpioin.Auto, "edges": gpioin.Edges, "polling": gpioin.Polling}[mode]
	}
	if o.duration("poll_period", &in.PollPeriod, time.Millisecond, time.Second) && in.Mode == gpioin.Edges {
		_, at, _ := o.get("poll_period")
		o.errorf("poll_period", at, "applies only when polling: input is edges")
	}
	return in
}

func (p *parser) pushbutton(o *obj, dp *devParse) *Pushbutton {
	b := &Pushbutton{Input: p.input(o, dp), DoubleClick: DefaultDoubleClick, LongPress: DefaultLongPress, DeviceClass: "button"}
	o.duration("double_click", &b.DoubleClick, 0, 5*time.Second)
	o.duration("long_press", &b.LongPress, 0, time.Minute)
	for _, k := range []struct {
		key string
		d   time.Duration
	}{{"double_click", b.DoubleClick}, {"long_press", b.LongPress}} {
		if k.d > 0 && k.d <= b.Debounce {
			_, at, _ := o.get(k.key)
			if !o.has(k.key) {
				at = o.keyPos("debounce")
			}
			o.errorf(k.key, at, "%v is not longer than the debounce time %v (0 turns it off)", k.d, b.Debounce)
		}
	}
	o.str("device_class", &b.DeviceClass)
	if so, ok := p.simulate(o); ok {
		sim := &PushbuttonSim{Every: 10 * time.Second}
		enabled := b.EventTypes()
		for _, g := range enabled {
			sim.Gestures = append(sim.Gestures, Gesture(g))
		}
		var gs []string
		if so.strings("gestures", &gs) {
			_, at, _ := so.get("gestures")
			if len(gs) == 0 {
				so.errorf("gestures", at, "empty list: give gestures such as [single, double, long]")
			}
			_, pos, _ := so.list("gestures")
			good := true
			for i, g := range gs {
				if !contains(enabled, g) {
					msg := fmt.Sprintf("%q is not a gesture of this button (%s)", g, strings.Join(enabled, ", "))
					if contains([]string{string(GestureDouble), string(GestureLong)}, g) {
						msg = fmt.Sprintf("%q is turned off for this button (%s is 0)", g, map[string]string{"double": "double_click", "long": "long_press"}[g])
					}
					p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", so.at("gestures"), i), "%s", msg)
					good = false
				}
			}
			if good && len(gs) > 0 {
				sim.Gestures = sim.Gestures[:0]
				for _, g := range gs {
					sim.Gestures = append(sim.Gestures, Gesture(g))
				}
			}
		}
		// A gesture must be over before the next starts: the longest is a
		// long press, or a double click and its window.
		longest := max(b.LongPress, b.DoubleClick) + b.Debounce + 100*time.Millisecond
		if so.duration("every", &sim.Every, 100*time.Millisecond, 24*time.Hour) && sim.Every <= longest {
			_, at, _ := so.get("every")
			so.errorf("every", at, "%v leaves no room for a gesture: make it longer than %v", sim.Every, longest)
		}
		so.done()
		b.Simulate = sim
	}
	return b
}

func (p *parser) contact(o *obj, dp *devParse, isContact bool) *Contact {
	c := &Contact{Input: p.input(o, dp), Invert: isContact}
	if isContact {
		c.DeviceClass = "opening"
	}
	o.boolean("invert", &c.Invert)
	o.str("device_class", &c.DeviceClass)
	if so, ok := p.simulate(o); ok {
		sim := &ContactSim{Every: 30 * time.Second}
		if so.duration("every", &sim.Every, 100*time.Millisecond, 24*time.Hour) && sim.Every <= c.Debounce {
			_, at, _ := so.get("every")
			so.errorf("every", at, "%v is not longer than the debounce time %v: the changes would merge", sim.Every, c.Debounce)
		}
		so.done()
		c.Simulate = sim
	}
	return c
}

// frequency reads key as a frequency: a number of Hz or a text such as
// "1kHz".
func (p *parser) frequency(o *obj, key string, dst *physic.Frequency) bool {
	n, at, ok := o.get(key)
	if !ok {
		return false
	}
	var f physic.Frequency
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		hz, ok := p.d.number(o.at(key), at, n)
		if !ok {
			return false
		}
		if hz < 1 || hz > 100e6 {
			o.errorf(key, at, "%v Hz is out of range (1 Hz to 100 MHz)", hz)
			return false
		}
		f = physic.Frequency(hz * float64(physic.Hertz))
	default:
		s, ok := p.d.text(o.at(key), at, n)
		if !ok {
			return false
		}
		if err := f.Set(strings.TrimSpace(s)); err != nil || f < physic.Hertz || f > 100*physic.MegaHertz {
			o.errorf(key, at, "%q is not a frequency from 1Hz to 100MHz: write a number of Hz or a text such as \"1kHz\"", s)
			return false
		}
	}
	*dst = f
	return true
}

func (p *parser) led(o *obj, dp *devParse) *LED {
	l := &LED{Blink: &BlinkEffect{DefaultBlinkOn, DefaultBlinkOff}, Heartbeat: &HeartbeatEffect{DefaultHeartbeatPeriod}}
	l.Pin = p.pin(o, "pin", dp)
	o.boolean("active_low", &l.ActiveLow)
	o.boolean("pwm", &l.PWM)
	if p.frequency(o, "pwm_frequency", &l.PWMFrequency) && !l.PWM {
		_, at, _ := o.get("pwm_frequency")
		o.errorf("pwm_frequency", at, "needs pwm: true")
	}
	if o.present("effects") {
		l.Blink, l.Heartbeat = nil, nil
		if e := o.sub("effects"); e != nil {
			if e.present("blink") {
				l.Blink = &BlinkEffect{DefaultBlinkOn, DefaultBlinkOff}
				if b := p.effect(e, "blink"); b != nil {
					b.duration("on", &l.Blink.On, time.Millisecond, time.Hour)
					b.duration("off", &l.Blink.Off, time.Millisecond, time.Hour)
					b.done()
				}
			}
			if e.present("heartbeat") {
				l.Heartbeat = &HeartbeatEffect{DefaultHeartbeatPeriod}
				if h := p.effect(e, "heartbeat"); h != nil {
					h.duration("period", &l.Heartbeat.Period, 100*time.Millisecond, time.Minute)
					h.done()
				}
			}
			e.done()
		}
	}
	if so, ok := p.simulate(o); ok {
		so.done()
		l.Simulate = &Simulation{}
	}
	return l
}

// effect reads one LED effect: empty or true for its defaults, a mapping
// for its parameters. It returns nil when there is nothing to read.
func (p *parser) effect(e *obj, key string) *obj {
	n, at, ok := e.get(key)
	if !ok {
		return nil
	}
	if b, isBool := n.(*ast.BoolNode); isBool {
		if !b.Value {
			e.errorf(key, at, "leave the effect out to turn it off")
		}
		return nil
	}
	return p.d.object(e.at(key), at, n)
}

func (p *parser) output(o *obj, dp *devParse) *Output {
	out := &Output{}
	out.Pin = p.pin(o, "pin", dp)
	o.boolean("active_low", &out.ActiveLow)
	if n, at, ok := o.get("initial"); ok {
		switch v := n.(type) {
		case *ast.BoolNode:
			out.Initial = v.Value
		default:
			s, _ := scalarText(n)
			switch strings.ToLower(s) {
			case "off":
			case "on":
				out.Initial = true
			default:
				o.errorf("initial", at, "expected off or on, got %s", describe(n))
			}
		}
	}
	o.str("device_class", &out.DeviceClass)
	if so, ok := p.simulate(o); ok {
		so.done()
		out.Simulate = &Simulation{}
	}
	return out
}

// i2c reads the bus and address keys of an I2C chip; allowed lists the
// addresses the chip can have.
func (p *parser) i2c(o *obj, dp *devParse, chip string, allowed ...uint16) I2C {
	c := I2C{Bus: DefaultI2CBus, Address: allowed[0]}
	if n, at, ok := o.get("bus"); ok {
		if s, ok := p.d.text(o.at("bus"), at, n); ok {
			if bus, err := normalizeBus(s); err != nil {
				o.errorf("bus", at, "%v", err)
			} else {
				c.Bus = bus
			}
		}
	}
	dp.bus = use{name: c.Bus, pos: o.keyPos("bus"), path: o.at("bus")}
	if !o.has("bus") {
		dp.bus.path = dp.path
		dp.bus.pos = dp.dev.Pos
	}
	if n, at, present := o.get("address"); present {
		if a, ok := p.d.integer(o.at("address"), at, n); ok {
			switch {
			case a < 0 || a > 0x7f:
				o.errorf("address", at, "%s is not a 7-bit I2C address (0x00 to 0x7f)", n.GetToken().Value)
			case !contains16(allowed, uint16(a)):
				names := make([]string, len(allowed))
				for i, x := range allowed {
					names[i] = fmt.Sprintf("0x%02x", x)
				}
				o.errorf("address", at, "0x%02x is not an address of the %s (%s)", a, chip, strings.Join(names, " or "))
			default:
				c.Address = uint16(a)
			}
		}
	}
	at := o.keyPos("address")
	if !o.has("address") {
		at = dp.dev.Pos
	}
	dp.i2c = append(dp.i2c, use{name: fmt.Sprintf("%s/0x%02x", c.Bus, c.Address), pos: at, path: dp.path})
	return c
}

func contains16(list []uint16, x uint16) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

// rangePair reads key as [min, max] within [lo, hi].
func (p *parser) rangePair(o *obj, key string, dst *[2]float64, lo, hi float64) bool {
	items, pos, ok := o.list(key)
	if !ok {
		return false
	}
	_, at, _ := o.get(key)
	if len(items) != 2 {
		o.errorf(key, at, "expected [min, max], got %d values", len(items))
		return false
	}
	var v [2]float64
	for i, n := range items {
		f, ok := p.d.number(fmt.Sprintf("%s[%d]", o.at(key), i), pos[i], n)
		if !ok {
			return false
		}
		if f < lo || f > hi {
			p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", o.at(key), i), "%v is out of range (%v to %v)", f, lo, hi)
			return false
		}
		v[i] = f
	}
	if v[0] > v[1] {
		o.errorf(key, at, "the minimum %v is above the maximum %v", v[0], v[1])
		return false
	}
	*dst = v
	return true
}

func (p *parser) htu21d(o *obj, dp *devParse) *HTU21D {
	h := &HTU21D{I2C: p.i2c(o, dp, "HTU21D", DefaultHTU21DAddress), Interval: DefaultHTU21DInterval, Resolution: htu21d.RH12T14}
	o.duration("interval", &h.Interval, 200*time.Millisecond, 24*time.Hour)
	var res string
	if o.enum("resolution", &res, "rh12_t14", "rh8_t12", "rh10_t13", "rh11_t11") {
		h.Resolution = map[string]htu21d.Resolution{"rh12_t14": htu21d.RH12T14, "rh8_t12": htu21d.RH8T12,
			"rh10_t13": htu21d.RH10T13, "rh11_t11": htu21d.RH11T11}[res]
	}
	if so, ok := p.simulate(o); ok {
		sim := &HTU21DSim{Temperature: [2]float64{19, 23}, Humidity: [2]float64{40, 55}}
		p.rangePair(so, "temperature", &sim.Temperature, -40, 125)
		p.rangePair(so, "humidity", &sim.Humidity, 0, 100)
		so.integer("fail_every", &sim.FailEvery, 0, 1<<30)
		so.done()
		h.Simulate = sim
	}
	return h
}

func (p *parser) adxl345(o *obj, dp *devParse) *ADXL345 {
	a := &ADXL345{
		I2C:   p.i2c(o, dp, "ADXL345", DefaultADXL345Address, adxl345.AddressAltHigh),
		Range: adxl345.Range2G, Interval: DefaultADXL345Interval,
		MotionThreshold: DefaultMotionThreshold, MotionMode: adxl345.Distance, MotionHold: DefaultMotionHold,
		Smoothing: DefaultSmoothing, MotionDeviceClass: "moving",
	}
	a.Rate, _ = adxl345.RateFor(DefaultADXL345RateHz)
	var g int
	if o.integer("range", &g, 0, 1<<20) {
		r, ok := map[int]adxl345.Range{2: adxl345.Range2G, 4: adxl345.Range4G, 8: adxl345.Range8G, 16: adxl345.Range16G}[g]
		if ok {
			a.Range = r
		} else {
			_, at, _ := o.get("range")
			o.errorf("range", at, "%d is not a range of the ADXL345: 2, 4, 8 or 16 (g)", g)
		}
	}
	var hz float64
	rateSet := false
	if o.float("rate", &hz, 0, 1e6) {
		if r, err := adxl345.RateFor(hz); err != nil {
			_, at, _ := o.get("rate")
			o.errorf("rate", at, "%v Hz is not a data rate of the ADXL345 (0.10, 0.20, 0.39, 0.78, 1.56, 3.13, 6.25, 12.5, 25, 50, 100, 200, 400, 800, 1600 or 3200)", hz)
		} else {
			a.Rate, rateSet = r, true
		}
	}
	if o.duration("interval", &a.Interval, 10*time.Millisecond, time.Hour) || rateSet {
		if sample := time.Duration(float64(time.Second) / a.Rate.Hz()); a.Interval < sample {
			key := "interval"
			if !o.has("interval") {
				key = "rate"
			}
			_, at, _ := o.get(key)
			o.errorf(key, at, "polling every %v is faster than the data rate %v gives new samples (every %v): poll less often or raise the rate", a.Interval, a.Rate, sample)
		} else if most := sample * adxl345.FIFOSize; a.Interval > most {
			key := "interval"
			if !o.has("interval") {
				key = "rate"
			}
			_, at, _ := o.get(key)
			o.errorf(key, at, "polling every %v at %v would lose samples: the chip's FIFO holds %d (%v at this rate): poll at least every %v or lower the rate", a.Interval, a.Rate, adxl345.FIFOSize, most, most)
		}
	}
	o.float("motion_threshold", &a.MotionThreshold, 0, 32)
	var mode string
	if o.enum("motion_mode", &mode, "distance", "per_axis", "magnitude") {
		a.MotionMode = map[string]adxl345.ThresholdMode{"distance": adxl345.Distance, "per_axis": adxl345.PerAxis, "magnitude": adxl345.Magnitude}[mode]
	}
	o.duration("motion_hold", &a.MotionHold, a.Interval, 24*time.Hour)
	if o.float("smoothing", &a.Smoothing, 0, 1) && a.Smoothing == 0 {
		_, at, _ := o.get("smoothing")
		o.errorf("smoothing", at, "0 would never move: give a weight above 0, up to 1 (no smoothing)")
	}
	o.str("motion_device_class", &a.MotionDeviceClass)
	if so, ok := p.simulate(o); ok {
		sim := &ADXL345Sim{Noise: 0.005, ShakeEvery: time.Minute}
		so.float("noise", &sim.Noise, 0, 1)
		so.duration("shake_every", &sim.ShakeEvery, 0, 24*time.Hour)
		so.integer("fail_every", &sim.FailEvery, 0, 1<<30)
		so.done()
		a.Simulate = sim
	}
	return a
}

// serial reads the keys of a serial port.
func (p *parser) serial(o *obj, dp *devParse, baud int) Serial {
	s := Serial{Baud: baud, Framing: DefaultFraming, DataBits: 8, Parity: uart.NoParity, StopBits: uart.OneStopBit}
	if n, at, ok := o.get("port"); ok {
		if txt, ok := p.d.text(o.at("port"), at, n); ok {
			if port, err := normalizePort(txt); err != nil {
				o.errorf("port", at, "%v", err)
			} else {
				s.Port = port
				dp.ports = append(dp.ports, use{name: port, pos: at, path: o.at("port")})
			}
		}
	} else {
		o.missing("port", "the serial device, such as \"/dev/serial/by-id/usb-FTDI_…\" or \"/dev/ttyUSB0\"")
	}
	o.integer("baud", &s.Baud, 50, 4_000_000)
	if o.str("framing", &s.Framing) {
		bits, parity, stop, err := uart.ParseFormat(s.Framing)
		if err != nil {
			_, at, _ := o.get("framing")
			o.errorf("framing", at, "%s", strings.TrimPrefix(err.Error(), "character format "))
		} else {
			s.DataBits, s.Parity, s.StopBits = bits, parity, stop
			if stop == uart.OnePointFiveStopBits {
				_, at, _ := o.get("framing")
				o.errorf("framing", at, "%q: Linux cannot send 1.5 stop bits", s.Framing)
			}
		}
	}
	return s
}

// lineEnding reads key as a line ending.
func lineEnding(o *obj, key string, dst *uart.LineEnding, withAny bool) bool {
	names := []string{"lf", "cr", "crlf"}
	if withAny {
		names = append(names, "any")
	}
	var s string
	if !o.enum(key, &s, names...) {
		return false
	}
	*dst = map[string]uart.LineEnding{"lf": uart.LF, "cr": uart.CR, "crlf": uart.CRLF, "any": uart.AnyEOL}[s]
	return true
}

func (p *parser) uartLines(o *obj, dp *devParse) *UARTLines {
	u := &UARTLines{Serial: p.serial(o, dp, DefaultLinesBaud), LineEnding: uart.LF, MaxLine: DefaultMaxLine, As: LinesSensor}
	lineEnding(o, "line_ending", &u.LineEnding, true)
	o.integer("max_line", &u.MaxLine, 16, 1<<20)
	var as string
	if o.enum("as", &as, string(LinesSensor), string(LinesEvent)) {
		u.As = LinesAs(as)
	}
	if o.str("match", &u.MatchText) {
		_, at, _ := o.get("match")
		re, err := regexp.Compile(u.MatchText)
		switch {
		case err != nil:
			o.errorf("match", at, "not a regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		case re.NumSubexp() > 1:
			o.errorf("match", at, "%d capture groups: use at most one, around the value (make others non-capturing with (?:…))", re.NumSubexp())
		default:
			u.Match = re
		}
	}
	numericSet := o.boolean("numeric", &u.Numeric)
	o.str("unit", &u.Unit)
	o.str("device_class", &u.DeviceClass)
	o.str("state_class", &u.StateClass)
	eventTypesSet := o.strings("event_types", &u.EventTypes)
	if u.As == LinesSensor {
		if !numericSet {
			u.Numeric = u.Unit != "" || u.StateClass != "" || u.DeviceClass != "" && u.DeviceClass != "enum" && u.DeviceClass != "timestamp" && u.DeviceClass != "date"
		}
		if !u.Numeric {
			for _, k := range []string{"unit", "state_class"} {
				if o.has(k) {
					_, at, _ := o.get(k)
					o.errorf(k, at, "a text sensor has no %s: set numeric: true if the lines are numbers", strings.ReplaceAll(k, "_", " "))
				}
			}
		}
		if eventTypesSet {
			_, at, _ := o.get("event_types")
			o.errorf("event_types", at, "applies only to as: event")
		}
	} else {
		for _, k := range []string{"numeric", "unit", "state_class"} {
			if o.has(k) {
				_, at, _ := o.get(k)
				o.errorf(k, at, "applies only to as: sensor (events carry the line as text)")
			}
		}
		if !eventTypesSet {
			u.EventTypes = []string{"line"}
		} else {
			_, at, _ := o.get("event_types")
			if len(u.EventTypes) == 0 {
				o.errorf("event_types", at, "empty list: leave the key out for the single type \"line\"")
			}
		}
	}
	u.CommandEnding = u.LineEnding
	if u.LineEnding == uart.AnyEOL {
		u.CommandEnding = uart.CRLF
	}
	o.boolean("command", &u.Command)
	if lineEnding(o, "command_ending", &u.CommandEnding, false) && !u.Command {
		_, at, _ := o.get("command_ending")
		o.errorf("command_ending", at, "needs command: true")
	}
	if so, ok := p.simulate(o); ok {
		sim := &UARTLinesSim{Every: 10 * time.Second}
		linesSet := so.strings("lines", &sim.Lines)
		so.duration("every", &sim.Every, 10*time.Millisecond, 24*time.Hour)
		if so.str("pty", &sim.PTY) {
			_, at, _ := so.get("pty")
			if _, err := normalizePort(sim.PTY); err != nil {
				so.errorf("pty", at, "%q is not an absolute path for the link to the pseudo-terminal", sim.PTY)
			}
			if so.has("lines") {
				so.errorf("pty", at, "pty and lines exclude each other: the device is fed either by you through the pty or by the lines")
			}
		} else if !linesSet {
			so.missing("lines", "the lines to send, such as [\"T=21.5\", \"T=21.7\"], or pty: a path where you can write lines yourself")
		}
		if linesSet {
			p.checkSimLines(so, u, sim.Lines)
		}
		so.done()
		u.Simulate = sim
	}
	return u
}

// checkSimLines checks that simulated lines are what the device accepts.
func (p *parser) checkSimLines(so *obj, u *UARTLines, lines []string) {
	_, at, _ := so.get("lines")
	if len(lines) == 0 {
		so.errorf("lines", at, "empty list")
		return
	}
	_, pos, _ := so.list("lines")
	for i, l := range lines {
		path := fmt.Sprintf("%s[%d]", so.at("lines"), i)
		switch {
		case strings.ContainsAny(l, "\r\n"):
			p.d.errorf(pos[i], path, "a line cannot contain a line break")
		case len(l) > u.MaxLine:
			p.d.errorf(pos[i], path, "longer than max_line (%d bytes)", u.MaxLine)
		case u.As == LinesEvent && !contains(u.EventTypes, "line") && !contains(u.EventTypes, l):
			p.d.errorf(pos[i], path, "%q is not one of the event_types (%s)", l, strings.Join(u.EventTypes, ", "))
		case u.As == LinesSensor && u.Numeric:
			v := l
			if u.Match != nil {
				m := u.Match.FindStringSubmatch(l)
				if m == nil {
					p.d.errorf(pos[i], path, "%q does not match %q", l, u.MatchText)
					continue
				}
				v = m[len(m)-1]
			}
			if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				p.d.errorf(pos[i], path, "%q is not a number, and the sensor is numeric", v)
			}
		}
	}
}

func (p *parser) atModem(o *obj, dp *devParse) *ATModem {
	m := &ATModem{Serial: p.serial(o, dp, DefaultModemBaud), CommandTimeout: DefaultCommandTimeout,
		Quiet: DefaultQuiet, SignalInterval: DefaultSignalInterval}
	o.duration("command_timeout", &m.CommandTimeout, 100*time.Millisecond, 10*time.Minute)
	if o.duration("quiet", &m.Quiet, 10*time.Millisecond, 10*time.Minute) || o.has("command_timeout") {
		if m.Quiet >= m.CommandTimeout {
			key := "quiet"
			if !o.has("quiet") {
				key = "command_timeout"
			}
			_, at, _ := o.get(key)
			o.errorf(key, at, "quiet %v is not shorter than command_timeout %v: every silent reply would time out", m.Quiet, m.CommandTimeout)
		}
	}
	if o.duration("signal_interval", &m.SignalInterval, 0, 24*time.Hour) && m.SignalInterval > 0 && m.SignalInterval < 5*time.Second {
		_, at, _ := o.get("signal_interval")
		o.errorf("signal_interval", at, "%v is shorter than 5s (0 turns the signal sensor off)", m.SignalInterval)
	}
	o.boolean("require_final", &m.RequireFinal)
	if o.strings("urc_prefixes", &m.URCPrefixes) {
		_, pos, _ := o.list("urc_prefixes")
		for i, s := range m.URCPrefixes {
			if strings.TrimSpace(s) == "" {
				p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", o.at("urc_prefixes"), i), "empty prefix")
			}
		}
	}
	if so, ok := p.simulate(o); ok {
		sim := &ATModemSim{CSQ: [2]int{12, 25}}
		var csq [2]float64
		if p.rangePair(so, "csq", &csq, 0, 31) {
			if csq[0] != float64(int(csq[0])) || csq[1] != float64(int(csq[1])) {
				_, at, _ := so.get("csq")
				so.errorf("csq", at, "AT+CSQ values are whole numbers")
			}
			sim.CSQ = [2]int{int(csq[0]), int(csq[1])}
		}
		if r := so.sub("replies"); r != nil {
			sim.Replies = map[string][]string{}
			r.each(func(cmd string, kp Pos, n ast.Node) {
				path := r.at(cmd)
				if !strings.HasPrefix(strings.ToUpper(cmd), "AT") {
					p.d.errorf(kp, path, "%q is not an AT command (it starts with AT)", cmd)
				}
				var lines []string
				if seq, ok := n.(*ast.SequenceNode); ok {
					for i, item := range seq.Values {
						item = p.d.resolve(path, item)
						if s, ok := p.d.text(fmt.Sprintf("%s[%d]", path, i), p.d.nodePos(item), item); ok {
							lines = append(lines, s)
						}
					}
				} else if s, ok := scalarText(n); ok {
					lines = []string{s}
				} else if !isNull(n) {
					p.d.errorf(p.d.nodePos(n), path, "expected the reply lines, got %s", describe(n))
				}
				sim.Replies[cmd] = lines
			})
			r.done()
		}
		so.done()
		m.Simulate = sim
	}
	return m
}

func (p *parser) necIR(o *obj, dp *devParse) *NECIR {
	n := &NECIR{Repeat: RepeatIgnore, RepeatDelay: DefaultRepeatDelay, ReportUnknown: true, DeviceClass: "button"}
	n.Pin = p.pin(o, "pin", dp)
	o.boolean("extended", &n.Extended)
	o.boolean("report_unknown", &n.ReportUnknown)
	var rep string
	if o.enum("repeat", &rep, string(RepeatIgnore), string(RepeatRepeat)) {
		n.Repeat = Repeat(rep)
	}
	if o.duration("repeat_delay", &n.RepeatDelay, nec.RepeatPeriod, 10*time.Second) && n.Repeat != RepeatRepeat {
		_, at, _ := o.get("repeat_delay")
		o.errorf("repeat_delay", at, "applies only to repeat: repeat")
	}
	o.str("device_class", &n.DeviceClass)
	keyPos := map[[2]int]Pos{}
	if k := o.sub("keys"); k != nil {
		k.each(func(name string, kp Pos, v ast.Node) {
			path := k.at(name)
			if msg := checkKeyName(name); msg != "" {
				p.d.errorf(kp, path, "key name %q %s", name, msg)
				return
			}
			if name == EventUnknown && n.ReportUnknown {
				p.d.errorf(kp, path, "%q is the event of codes that match no key: rename the key, or set report_unknown: false", name)
				return
			}
			key, ok := p.necKey(path, kp, v, n.Extended)
			if !ok {
				return
			}
			key.Name = name
			code := [2]int{int(key.Address), int(key.Command)}
			if first, dup := keyPos[code]; dup {
				p.d.errorf(kp, path, "address 0x%02x command 0x%02x is also key %s (%s)", key.Address, key.Command, nameAt(n.Keys, code), first.short())
				return
			}
			keyPos[code] = kp
			n.Keys = append(n.Keys, key)
		})
		k.done()
	}
	if len(n.Keys) == 0 && !n.ReportUnknown {
		if o.has("keys") {
			_, at, _ := o.get("keys")
			o.errorf("keys", at, "no keys, and report_unknown is false: the receiver would report nothing")
		} else {
			o.missing("keys", "the remote's keys, name: {address: 0x04, command: 0x08} (set report_unknown: true and watch the unknown events to learn them)")
		}
	}
	if so, ok := p.simulate(o); ok {
		sim := &NECIRSim{Every: 20 * time.Second}
		for _, k := range n.Keys {
			sim.Sequence = append(sim.Sequence, k.Name)
		}
		if so.strings("sequence", &sim.Sequence) {
			_, at, _ := so.get("sequence")
			_, pos, _ := so.list("sequence")
			if len(sim.Sequence) == 0 {
				so.errorf("sequence", at, "empty list")
			}
			for i, name := range sim.Sequence {
				if _, ok := keyByName(n.Keys, name); !ok {
					msg := fmt.Sprintf("%q is not one of the keys", name)
					if s := nearest(name, n.EventTypes()); s != "" && s != EventUnknown {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
					p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", so.at("sequence"), i), "%s", msg)
				}
			}
		} else if len(sim.Sequence) == 0 {
			so.missing("sequence", "the key names to send; the receiver has no keys to send by default")
		}
		so.duration("every", &sim.Every, 200*time.Millisecond, 24*time.Hour)
		so.done()
		n.Simulate = sim
	}
	return n
}

func nameAt(keys []NECKey, code [2]int) string {
	for _, k := range keys {
		if int(k.Address) == code[0] && int(k.Command) == code[1] {
			return k.Name
		}
	}
	return "?"
}

func keyByName(keys []NECKey, name string) (NECKey, bool) {
	for _, k := range keys {
		if k.Name == name {
			return k, true
		}
	}
	return NECKey{}, false
}

// checkKeyName says what is wrong with a key name (a Home Assistant event
// type used in automations), or "".
func checkKeyName(s string) string {
	if s == "" || len(s) > 64 {
		return "must have 1 to 64 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "may use only a-z, 0-9 and _"
		}
	}
	return ""
}

// necKey reads one key: a code (address << 8 | command) or a mapping with
// address and command.
func (p *parser) necKey(path string, kp Pos, v ast.Node, extended bool) (NECKey, bool) {
	maxAddr := 0xff
	if extended {
		maxAddr = 0xffff
	}
	if isNull(v) {
		p.d.errorf(kp, path, "missing value: the key's code, such as 0x0408, or {address: 0x04, command: 0x08}")
		return NECKey{}, false
	}
	if m, ok := v.(*ast.MappingNode); ok {
		ko := p.d.object(path, p.d.nodePos(m), m)
		var addr, cmd int
		aok := ko.integer("address", &addr, 0, 0xffff)
		cok := ko.integer("command", &cmd, 0, 0xff)
		if !ko.has("address") {
			ko.missing("address", "the remote's address")
		}
		if !ko.has("command") {
			ko.missing("command", "the key's command, 0x00 to 0xff")
		}
		ko.done()
		if aok && addr > maxAddr {
			_, at, _ := ko.get("address")
			ko.errorf("address", at, "0x%04x needs 16 bits: set extended: true for a remote with extended addresses", addr)
			return NECKey{}, false
		}
		return NECKey{Address: uint16(addr), Command: uint8(cmd)}, aok && cok
	}
	at := p.d.nodePos(v)
	code, ok := p.d.integer(path, at, v)
	if !ok {
		return NECKey{}, false
	}
	limit := int64(maxAddr)<<8 | 0xff
	if code < 0 || code > limit {
		msg := fmt.Sprintf("code %s is out of range (0x0000 to 0x%04x: the address byte, then the command byte)", v.GetToken().Value, limit)
		if !extended && code > limit && code <= 0xffffff {
			msg += "; set extended: true for 16-bit addresses"
		}
		p.d.errorf(at, path, "%s", msg)
		return NECKey{}, false
	}
	return NECKey{Address: uint16(code >> 8), Command: uint8(code & 0xff)}, true
}

func (p *parser) system(o *obj, dp *devParse) *System {
	s := &System{Interval: DefaultSystemInterval, ThermalZone: DefaultThermalZone, Values: SystemValues()}
	o.duration("interval", &s.Interval, time.Second, 24*time.Hour)
	if o.str("thermal_zone", &s.ThermalZone) {
		_, at, _ := o.get("thermal_zone")
		if !strings.HasPrefix(s.ThermalZone, "/") {
			o.errorf("thermal_zone", at, "%q is not an absolute path, such as %s", s.ThermalZone, DefaultThermalZone)
		}
	}
	var vals []string
	if o.strings("values", &vals) {
		_, at, _ := o.get("values")
		_, pos, _ := o.list("values")
		if len(vals) == 0 {
			o.errorf("values", at, "empty list: leave the key out for all of %s", strings.Join(SystemValues(), ", "))
		}
		seen := map[string]bool{}
		good := true
		for i, v := range vals {
			path := fmt.Sprintf("%s[%d]", o.at("values"), i)
			switch {
			case !contains(SystemValues(), v):
				msg := fmt.Sprintf("%q is not a system value (%s)", v, strings.Join(SystemValues(), ", "))
				if near := nearest(v, SystemValues()); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				p.d.errorf(pos[i], path, "%s", msg)
				good = false
			case seen[v]:
				p.d.errorf(pos[i], path, "%q is listed twice", v)
				good = false
			}
			seen[v] = true
		}
		if good && len(vals) > 0 {
			s.Values = nil
			for _, v := range SystemValues() { // the documented order, whatever the file's
				if seen[v] {
					s.Values = append(s.Values, v)
				}
			}
		}
	}
	if so, ok := p.simulate(o); ok {
		sim := &SystemSim{CPUTemperature: [2]float64{45, 60}}
		p.rangePair(so, "cpu_temperature", &sim.CPUTemperature, -40, 150)
		so.done()
		s.Simulate = sim
	}
	return s
}
