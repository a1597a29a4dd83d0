package config

import (
	"regexp"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/uart"
)

// Type is a device type, the value of a device's type key.
type Type string

// Device types.
const (
	TypePushbutton Type = "pushbutton" // a momentary button → HA event single/double/long
	TypeSwitch     Type = "switch"     // a toggle switch → HA binary_sensor
	TypeContact    Type = "contact"    // a reed or door contact → HA binary_sensor
	TypeLED        Type = "led"        // an LED → HA light
	TypeOutput     Type = "output"     // a GPIO output → HA switch
	TypeRelay      Type = "relay"      // a relay on a GPIO → HA switch
	TypeHTU21D     Type = "htu21d"     // temperature and humidity on I2C → HA sensors
	TypeADXL345    Type = "adxl345"    // accelerometer on I2C → HA sensors and motion
	TypeUARTLines  Type = "uart_lines" // lines from a serial port → HA sensor or event
	TypeATModem    Type = "at_modem"   // an AT modem on a serial port → signal sensor, `at` method
	TypeNECIR      Type = "nec_ir"     // an NEC infrared receiver → HA event per key
	TypeSystem     Type = "system"     // the host and the agent → HA diagnostic sensors
)

// Types returns every device type, in the order the documentation lists
// them.
func Types() []Type {
	return []Type{TypePushbutton, TypeSwitch, TypeContact, TypeLED, TypeOutput, TypeRelay,
		TypeHTU21D, TypeADXL345, TypeUARTLines, TypeATModem, TypeNECIR, TypeSystem}
}

// Defaults of the device keys. Where a driver has the same setting, its
// default is used, so the two cannot drift apart.
const (
	DefaultDebounce        = button.DefaultDebounce
	DefaultDoubleClick     = button.DefaultDoubleClick
	DefaultLongPress       = button.DefaultLongPress
	DefaultPollPeriod      = gpioin.DefaultPollPeriod
	DefaultBlinkOn         = 250 * time.Millisecond
	DefaultBlinkOff        = 250 * time.Millisecond
	DefaultHeartbeatPeriod = time.Second
	DefaultI2CBus          = "1"
	DefaultHTU21DAddress   = htu21d.Address
	DefaultHTU21DInterval  = htu21d.DefaultPeriod
	DefaultADXL345Address  = adxl345.AddressAltLow
	// DefaultADXL345Interval is a second, not the driver's 100 ms: the agent
	// reads the chip's FIFO, so one wake-up a second sees every sample.
	DefaultADXL345Interval = time.Second
	DefaultADXL345RangeG   = 2
	DefaultADXL345RateHz   = 12.5
	DefaultMotionThreshold = adxl345.DefaultThreshold
	DefaultSmoothing       = adxl345.DefaultSmoothing
	DefaultMotionHold      = 5 * time.Second
	DefaultLinesBaud       = 9600
	DefaultModemBaud       = uart.DefaultBaud
	DefaultFraming         = "8N1"
	DefaultMaxLine         = uart.DefaultMaxLine
	DefaultCommandTimeout  = atmodem.DefaultTimeout
	DefaultQuiet           = atmodem.DefaultQuiet
	DefaultSignalInterval  = time.Minute
	DefaultRepeatDelay     = 500 * time.Millisecond
	DefaultSystemInterval  = time.Minute
	DefaultThermalZone     = "/sys/class/thermal/thermal_zone0"
)

// Device is one configured device.
type Device struct {
	// Name is the device's unique name, [a-z0-9_-]: its topic level and
	// Home Assistant component id (see Value.Entity).
	Name string
	// Type is the device type; it says which Spec the device has.
	Type Type
	// DisplayName is the name Home Assistant shows; by default derived from
	// Name ("door_contact" → "Door contact").
	DisplayName string
	// Icon is a Home Assistant icon ("mdi:doorbell"), or "".
	Icon string
	// Spec holds the type's settings: *Pushbutton (pushbutton), *Contact
	// (switch, contact), *LED (led), *Output (output, relay), *HTU21D,
	// *ADXL345, *UARTLines, *ATModem, *NECIR or *System.
	Spec Spec
	// Values are what the device publishes, each with its entity id, Home
	// Assistant platform and publish settings, in a fixed order.
	Values []Value
	// Pos is where the device is defined, for the agent's messages.
	Pos Pos
}

// Value returns the device's value called name ("" for a device with one
// value).
func (d *Device) Value(name string) (*Value, bool) {
	for i := range d.Values {
		if d.Values[i].Name == name {
			return &d.Values[i], true
		}
	}
	return nil, false
}

// Spec is a device type's settings. The set of types is closed: switch on
// the concrete type.
type Spec interface {
	// Simulated reports whether the device is simulated (its simulate key
	// is set): the agent then drives it from its simulator and never opens
	// its hardware.
	Simulated() bool
	sealed()
}

// Input holds what the GPIO inputs (pushbutton, switch, contact) share.
type Input struct {
	// Pin is the GPIO's name, normalised ("GPIO17", "P1_11").
	Pin string
	// Pull is the pin's internal resistor: gpio.PullUp, gpio.PullDown or
	// gpio.Float. The default pulls to the inactive level: up when
	// ActiveLow, down otherwise.
	Pull gpio.Pull
	// ActiveLow says the input reads low when pressed or closed (wired to
	// ground); the default.
	ActiveLow bool
	// Debounce is the time bounces are ignored after a change.
	Debounce time.Duration
	// Mode is how changes are seen: gpioin.Auto (edges when the pin has
	// edge detection, else polling), gpioin.Edges or gpioin.Polling.
	Mode gpioin.Mode
	// PollPeriod is the polling period when polling.
	PollPeriod time.Duration
}

// Gesture is a pushbutton gesture, also its Home Assistant event type.
type Gesture string

// Gestures.
const (
	GestureSingle Gesture = "single"
	GestureDouble Gesture = "double"
	GestureLong   Gesture = "long"
)

// Pushbutton is a momentary button (type pushbutton): one Home Assistant
// event per gesture, never two (a long press is not also a single).
type Pushbutton struct {
	Input
	// DoubleClick is the window for a second press; 0 turns double clicks
	// off, and a single is then sent at once on release.
	DoubleClick time.Duration
	// LongPress is how long a press must be held to be long; 0 turns long
	// presses off.
	LongPress time.Duration
	// DeviceClass is the Home Assistant event class: button, doorbell or
	// motion.
	DeviceClass string
	// Simulate is the simulation; nil on real hardware.
	Simulate *PushbuttonSim
}

// EventTypes returns the gestures the button reports, in order.
func (p *Pushbutton) EventTypes() []string {
	types := []string{string(GestureSingle)}
	if p.DoubleClick > 0 {
		types = append(types, string(GestureDouble))
	}
	if p.LongPress > 0 {
		types = append(types, string(GestureLong))
	}
	return types
}

// PushbuttonSim presses the button in a repeating pattern of gestures.
type PushbuttonSim struct {
	// Gestures are played in order, one every Every, then again.
	Gestures []Gesture
	// Every is the time from one gesture's start to the next's.
	Every time.Duration
}

// Contact is a switch or contact (types switch and contact): a Home
// Assistant binary_sensor that is ON when the contact is closed, or open
// with Invert.
type Contact struct {
	Input
	// Invert reports ON when the contact is open. The default is true for
	// type contact (Home Assistant's door, window and opening classes mean
	// ON = open, and a reed contact is closed while the door is shut) and
	// false for type switch.
	Invert bool
	// DeviceClass is the binary_sensor class; type contact defaults to
	// "opening", type switch to none.
	DeviceClass string
	// Simulate is the simulation; nil on real hardware.
	Simulate *ContactSim
}

// ContactSim toggles the contact periodically.
type ContactSim struct {
	// Every is the time between changes.
	Every time.Duration
}

// LED is a light-emitting diode (type led): a Home Assistant light, with
// brightness where PWM is enabled and blink and heartbeat effects.
type LED struct {
	// Pin is the GPIO's name.
	Pin string
	// ActiveLow says the LED lights when the pin is low.
	ActiveLow bool
	// PWM enables brightness through the pin's PWM.
	PWM bool
	// PWMFrequency is the PWM frequency; 0 leaves it to the pin driver.
	PWMFrequency physic.Frequency
	// Blink is the blink effect; nil when the effect is not offered.
	Blink *BlinkEffect
	// Heartbeat is the heartbeat effect; nil when not offered.
	Heartbeat *HeartbeatEffect
	// Simulate is the simulation; nil on real hardware.
	Simulate *Simulation
}

// Effects returns the names of the effects offered, for Home Assistant's
// effect list.
func (l *LED) Effects() []string {
	var e []string
	if l.Blink != nil {
		e = append(e, "blink")
	}
	if l.Heartbeat != nil {
		e = append(e, "heartbeat")
	}
	return e
}

// BlinkEffect blinks the LED until told otherwise.
type BlinkEffect struct {
	// On and Off are the times the LED is lit and dark in each blink.
	On, Off time.Duration
}

// HeartbeatEffect flashes the LED twice per period (led.Heartbeat).
type HeartbeatEffect struct {
	// Period is the time of one pair of flashes and the pause after it.
	Period time.Duration
}

// Simulation is the simulation of a device without parameters: a simulated
// pin instead of the real one.
type Simulation struct{}

// Output is a GPIO output (types output and relay): a Home Assistant
// switch.
type Output struct {
	// Pin is the GPIO's name.
	Pin string
	// ActiveLow says the output is on when the pin is low (many relay
	// boards).
	ActiveLow bool
	// Initial is the state set at start: false off, true on.
	Initial bool
	// DeviceClass is the switch class: outlet, switch, or "" (none).
	DeviceClass string
	// Simulate is the simulation; nil on real hardware.
	Simulate *Simulation
}

// I2C is the place of a chip on an I2C bus.
type I2C struct {
	// Bus is the bus's name, normalised: "1" for I2C1 or /dev/i2c-1.
	Bus string
	// Address is the chip's 7-bit address.
	Address uint16
}

// HTU21D is a temperature and humidity sensor (type htu21d).
type HTU21D struct {
	I2C
	// Interval is the time between readings.
	Interval time.Duration
	// Resolution is the measurement resolution.
	Resolution htu21d.Resolution
	// Simulate is the simulation; nil on real hardware.
	Simulate *HTU21DSim
}

// HTU21DSim drifts the readings within ranges.
type HTU21DSim struct {
	// Temperature and Humidity are the [min, max] ranges the values drift
	// in (°C, %RH).
	Temperature, Humidity [2]float64
	// FailEvery makes every FailEvery-th reading fail (a NACK), to show
	// error handling; 0 never.
	FailEvery int
}

// ADXL345 is an accelerometer (type adxl345): x, y and z in g and a
// motion binary_sensor.
type ADXL345 struct {
	I2C
	// Range is the measuring range.
	Range adxl345.Range
	// Rate is the output data rate.
	Rate adxl345.Rate
	// Interval is the polling period: each poll reads every sample the
	// chip's FIFO kept since the last one.
	Interval time.Duration
	// MotionThreshold is the change in g that counts as motion.
	MotionThreshold float64
	// MotionMode is how the change is measured.
	MotionMode adxl345.ThresholdMode
	// MotionHold is how long motion stays ON after the last change.
	MotionHold time.Duration
	// Smoothing is the weight of a new reading in the moving average the
	// threshold applies to (0 < Smoothing ≤ 1; 1 is no smoothing).
	Smoothing float64
	// MotionDeviceClass is the motion binary_sensor's class.
	MotionDeviceClass string
	// Simulate is the simulation; nil on real hardware.
	Simulate *ADXL345Sim
}

// ADXL345Sim simulates a resting accelerometer that is shaken now and then.
type ADXL345Sim struct {
	// Noise is the random noise on each axis, in g.
	Noise float64
	// ShakeEvery is the time between shakes; 0 never.
	ShakeEvery time.Duration
	// FailEvery makes every FailEvery-th poll fail; 0 never.
	FailEvery int
}

// Serial is a serial port's settings.
type Serial struct {
	// Port is the device path; prefer a stable one (/dev/serial/by-id/…).
	Port string
	// Baud is the bit rate.
	Baud int
	// Framing is the character format as written, e.g. "8N1".
	Framing string
	// DataBits (5–8), Parity and StopBits are what Framing says.
	DataBits int
	Parity   uart.Parity   // the parity bit, from Framing
	StopBits uart.StopBits // the stop bits, from Framing
}

// LinesAs says what a line from a serial port becomes.
type LinesAs string

// What lines become.
const (
	LinesSensor LinesAs = "sensor" // the line (or the part Match picks) is a sensor's state
	LinesEvent  LinesAs = "event"  // each line is an event
)

// UARTLines reads lines from a serial port (type uart_lines) and makes them
// a sensor's states or events; with Command, a set command writes a line.
type UARTLines struct {
	Serial
	// LineEnding is what ends a received line.
	LineEnding uart.LineEnding
	// MaxLine bounds a line's length, in bytes; longer lines are dropped.
	MaxLine int
	// As says what a line becomes.
	As LinesAs
	// Match, when set, picks the value out of each line: its first
	// capture group, or the whole match; lines that do not match are
	// ignored.
	Match *regexp.Regexp
	// MatchText is Match as written in the file.
	MatchText string
	// Numeric says the sensor's value is a number (as sensor).
	Numeric bool
	// Unit, DeviceClass and StateClass describe a sensor's value to Home
	// Assistant (as sensor); DeviceClass also an event's class.
	Unit, DeviceClass, StateClass string
	// EventTypes are the events (as event): ["line"] by default, where the
	// line is the event's text; otherwise each line must be one of them.
	EventTypes []string
	// Command lets a set command write a line to the port.
	Command bool
	// CommandEnding is appended to each written line.
	CommandEnding uart.LineEnding
	// Simulate is the simulation; nil on real hardware.
	Simulate *UARTLinesSim
}

// UARTLinesSim feeds the device from a generated pattern or from a pty.
type UARTLinesSim struct {
	// Lines are sent in order, one every Every, then again.
	Lines []string
	// Every is the time between two lines.
	Every time.Duration
	// PTY, instead, is a path where the agent links a pseudo-terminal whose
	// other end feeds the device: write lines to it yourself.
	PTY string
}

// ATModem is an AT-command modem on a serial port (type at_modem): the
// `at` request method, and a signal-quality sensor.
type ATModem struct {
	Serial
	// CommandTimeout bounds one command, lock wait included.
	CommandTimeout time.Duration
	// Quiet ends a reply after this much silence.
	Quiet time.Duration
	// SignalInterval is how often AT+CSQ is asked; 0 turns the signal
	// sensor off.
	SignalInterval time.Duration
	// RequireFinal fails a reply that ends without a final result code.
	RequireFinal bool
	// URCPrefixes are the prefixes of unsolicited result codes; nil means
	// the driver's defaults.
	URCPrefixes []string
	// Simulate is the simulation; nil on real hardware.
	Simulate *ATModemSim
}

// ATModemSim answers AT commands like a modem.
type ATModemSim struct {
	// CSQ is the [min, max] range of the signal quality (AT+CSQ, 0–31).
	CSQ [2]int
	// Replies maps a command to the lines it answers before OK; commands
	// not listed answer OK.
	Replies map[string][]string
}

// NECKey is a named key of an infrared remote.
type NECKey struct {
	// Name is the Home Assistant event type.
	Name string
	// Address is the remote's address (8 bits, or 16 when extended).
	Address uint16
	// Command is the key's command.
	Command uint8
}

// Repeat says what a held key does.
type Repeat string

// Repeat handlings.
const (
	RepeatIgnore Repeat = "ignore" // a held key is one event
	RepeatRepeat Repeat = "repeat" // a held key fires again, after RepeatDelay, with every repeat code
)

// EventUnknown is the event type of codes that match no key, when
// NECIR.ReportUnknown is set.
const EventUnknown = "unknown"

// NECIR is an NEC infrared receiver (type nec_ir): a Home Assistant event
// whose types are the key names.
type NECIR struct {
	// Pin is the GPIO the receiver's output is wired to (edge detection
	// needed).
	Pin string
	// Extended accepts 16-bit addresses.
	Extended bool
	// Keys in the order of the file.
	Keys []NECKey
	// Repeat says what a held key does.
	Repeat Repeat
	// RepeatDelay is how long a key must be held before it repeats.
	RepeatDelay time.Duration
	// ReportUnknown sends codes that match no key as the event "unknown",
	// with the address and command (to learn a remote's codes).
	ReportUnknown bool
	// DeviceClass is the Home Assistant event class.
	DeviceClass string
	// Simulate is the simulation; nil on real hardware.
	Simulate *NECIRSim
}

// Key returns the name of the key with this address and command.
func (n *NECIR) Key(address uint16, command uint8) (string, bool) {
	for _, k := range n.Keys {
		if k.Address == address && k.Command == command {
			return k.Name, true
		}
	}
	return "", false
}

// EventTypes returns the key names, and "unknown" with ReportUnknown.
func (n *NECIR) EventTypes() []string {
	var t []string
	for _, k := range n.Keys {
		t = append(t, k.Name)
	}
	if n.ReportUnknown {
		t = append(t, EventUnknown)
	}
	return t
}

// NECIRSim sends keys as a remote would.
type NECIRSim struct {
	// Sequence names the keys sent, in order, one every Every, then again.
	Sequence []string
	// Every is the time between two keys.
	Every time.Duration
}

// System values.
const (
	SystemCPUTemperature = "cpu_temperature" // °C, from the thermal zone
	SystemLoad           = "load"            // 1-minute load average
	SystemUptime         = "uptime"          // seconds since the host booted
	SystemMemory         = "memory"          // the agent's resident memory, MB
	SystemOutbox         = "outbox"          // messages waiting in the outbox
	SystemDeviceErrors   = "device_errors"   // devices failing now
)

// SystemValues returns every system value, in order.
func SystemValues() []string {
	return []string{SystemCPUTemperature, SystemLoad, SystemUptime, SystemMemory, SystemOutbox, SystemDeviceErrors}
}

// System reports the host and the agent (type system) as Home Assistant
// diagnostic sensors.
type System struct {
	// Interval is the time between readings.
	Interval time.Duration
	// ThermalZone is the directory of the CPU's thermal zone; the agent
	// reads its temp file (millidegrees).
	ThermalZone string
	// Values are the values reported, a subset of SystemValues in that
	// order.
	Values []string
	// Simulate is the simulation; nil on real hardware.
	Simulate *SystemSim
}

// SystemSim replaces what only a real board has.
type SystemSim struct {
	// CPUTemperature is the [min, max] range the CPU temperature drifts in.
	CPUTemperature [2]float64
}

// Simulated reports whether the device is simulated.
func (p *Pushbutton) Simulated() bool { return p.Simulate != nil }

// Simulated reports whether the device is simulated.
func (c *Contact) Simulated() bool { return c.Simulate != nil }

// Simulated reports whether the device is simulated.
func (l *LED) Simulated() bool { return l.Simulate != nil }

// Simulated reports whether the device is simulated.
func (o *Output) Simulated() bool { return o.Simulate != nil }

// Simulated reports whether the device is simulated.
func (h *HTU21D) Simulated() bool { return h.Simulate != nil }

// Simulated reports whether the device is simulated.
func (a *ADXL345) Simulated() bool { return a.Simulate != nil }

// Simulated reports whether the device is simulated.
func (u *UARTLines) Simulated() bool { return u.Simulate != nil }

// Simulated reports whether the device is simulated.
func (m *ATModem) Simulated() bool { return m.Simulate != nil }

// Simulated reports whether the device is simulated.
func (n *NECIR) Simulated() bool { return n.Simulate != nil }

// Simulated reports whether the device is simulated.
func (s *System) Simulated() bool { return s.Simulate != nil }

func (*Pushbutton) sealed() {}
func (*Contact) sealed()    {}
func (*LED) sealed()        {}
func (*Output) sealed()     {}
func (*HTU21D) sealed()     {}
func (*ADXL345) sealed()    {}
func (*UARTLines) sealed()  {}
func (*ATModem) sealed()    {}
func (*NECIR) sealed()      {}
func (*System) sealed()     {}
