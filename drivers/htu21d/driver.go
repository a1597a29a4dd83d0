package htu21d

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/internal/i2cdev"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// Defaults of the driver's options.
const (
	// DefaultPeriod is the time between readings of Run: the seed's
	// read_delay.
	DefaultPeriod = 10 * time.Second
	// DefaultBackoff is the wait before the first retry after a failed
	// reading; each further failure doubles it up to DefaultMaxBackoff.
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = time.Minute
)

// DefaultQueueSize bounds the queue of readings (Events): with the
// default period, two minutes of readings nobody took.
const DefaultQueueSize = 12

// ErrRunning is returned by Run while the sensor's Run is running.
var ErrRunning = errors.New("htu21d: Run is already running")

// A Reading is one measurement of both quantities, or the error state of a
// failed one (its Fault set, the values zero). Run publishes both kinds.
//
// Its JSON is {"time":…,"celsius":21.5,"humidity":45,"raw_temperature":
// 26676,"raw_humidity":28216}, or for an error state {"time":…,"error":
// "htu21d 0x40 on I2C1: read temperature: …","failures":2,"retry_in_s":2}.
type Reading struct {
	Celsius  float64 // temperature, °C
	Humidity float64 // relative humidity, %, clamped to 0–100

	// The raw values as read, status bits included, for callers that want
	// their own conversion (unclamped humidity, say).
	RawTemperature, RawHumidity uint16

	// Time is the loop clock when the reading completed, or failed.
	Time time.Time

	// Fault is set in an error state: Err (a *drivers.DeviceError),
	// Failures in a row, RetryIn.
	drivers.Fault
}

// MarshalJSON gives the wire form described on Reading.
func (r Reading) MarshalJSON() ([]byte, error) {
	type values struct {
		Celsius        float64 `json:"celsius"`
		Humidity       float64 `json:"humidity"`
		RawTemperature uint16  `json:"raw_temperature"`
		RawHumidity    uint16  `json:"raw_humidity"`
	}
	w := struct {
		Time time.Time `json:"time"`
		*values
		drivers.FaultJSON
	}{Time: r.Time, FaultJSON: r.Fault.JSON()}
	if !r.Failed() {
		w.values = &values{r.Celsius, r.Humidity, r.RawTemperature, r.RawHumidity}
	}
	return json.Marshal(w)
}

// Stats counts a sensor's readings.
type Stats struct {
	Readings uint64 // good readings by Run
	Failures uint64 // failed readings by Run
	Dropped  uint64 // readings lost because a queue was full or closed
}

// An Option configures a Dev in New.
type Option func(*config) error

type config struct {
	period     time.Duration
	resolution Resolution
	setRes     bool
	backoff    time.Duration
	maxBackoff time.Duration
	offload    bool
	queueSize  int
	onEvent    func(Reading)
}

const pkg = "htu21d"

// WithPeriod sets the time between the starts of Run's readings (default
// DefaultPeriod). A reading takes the two measuring times (66 ms at full
// resolution), so a shorter period reads back to back.
func WithPeriod(d time.Duration) Option {
	return func(c *config) error { return option.Positive(pkg, "WithPeriod", &c.period, d) }
}

// WithMeasurementResolution makes the driver set the sensor's resolution
// whenever it initialises it (at the first reading, after a soft reset and
// after an error), with a read-modify-write of the user register. Without
// it the driver uses the power-up default, RH12T14. Lower resolutions
// measure faster: see Resolution.MeasuringTime.
func WithMeasurementResolution(r Resolution) Option {
	return func(c *config) error {
		if r&^resolutionMask != 0 {
			return option.Errorf(pkg, fmt.Sprintf("WithMeasurementResolution(%#02x)", uint8(r)), "not one of RH12T14, RH8T12, RH10T13, RH11T11")
		}
		c.resolution, c.setRes = r, true
		return nil
	}
}

// WithBackoff sets Run's retry schedule after failed readings: first after
// the first failure, doubling with each further one, never more than max
// (defaults DefaultBackoff and DefaultMaxBackoff). A good reading restores
// the period.
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) error { return option.Backoff(pkg, &c.backoff, &c.maxBackoff, first, max) }
}

// WithOffload runs each bus transfer on a goroutine of its own instead of
// on the loop. Inline (the default), a transfer holds the loop for its bus
// time: at 100 kHz at most about 0.4 ms (38 bit times for a 3-byte
// result), four transfers per reading — far below the loop's hog
// threshold. Offloaded, the loop runs on meanwhile, and each transfer pays
// a goroutine hand-off: a few µs with an idle loop, 75 µs or more while
// other tasks keep the loop busy (BenchmarkTransfer). Offload for slow
// buses (bit-banged, 10 kHz) or buses other processes may hold. A read
// interrupted during a transfer leaves it to finish on its goroutine; the
// next one waits for it, so the sensor never sees two at once.
func WithOffload() Option {
	return func(c *config) error { return option.Set(&c.offload, true) }
}

// WithQueueSize bounds the queue of readings (default DefaultQueueSize).
// When nobody takes them, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.queueSize, n) }
}

// OnEvent calls fn on the loop with every reading Run publishes, good or
// failed, before it is queued. fn must not block.
func OnEvent(fn func(Reading)) Option {
	return func(c *config) error { return option.Set(&c.onEvent, fn) }
}

// A Dev is an HTU21D on an I2C bus, driven from tasks of one loop.
//
// Run is the periodic task; Read measures on demand; both may run at once,
// since a lock serialises the sensor's transactions. A Dev does not own the
// bus and never closes it.
type Dev struct {
	dev    *i2cdev.Dev // NeedsInit at first, and after an error: reset and configure
	out    *outlet.Outlet[Reading]
	latest primitives.Event[Reading]
	name   string
	cfg    config
	stats  Stats

	running   bool
	res       Resolution // the sensor's resolution, once initialised
	busyUntil time.Time  // a conversion or reset runs until then
}

// New returns a driver for the sensor at Address on bus, reporting every
// bad option. It performs no I/O: the sensor is reset and configured by
// the first Read (or Run, or SoftReset).
func New(bus i2c.Bus, opts ...Option) (*Dev, error) {
	cfg := config{period: DefaultPeriod, backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff, queueSize: DefaultQueueSize}
	err := option.Apply(&cfg, opts)
	if bus == nil {
		err = errors.Join(errors.New("htu21d: New: nil bus"), err)
	}
	if err != nil {
		return nil, err
	}
	d := &Dev{
		dev:  i2cdev.New(&i2c.Dev{Bus: bus, Addr: Address}, cfg.offload),
		out:  outlet.New(cfg.queueSize, cfg.onEvent),
		name: fmt.Sprintf("htu21d 0x%02x on %s", Address, bus),
		cfg:  cfg,
		res:  RH12T14,
	}
	// An abandoned transfer may have started a conversion or a reset:
	// the sensor acknowledges nothing until the longest of them is over.
	_, longest := RH12T14.MeasuringTime()
	d.dev.AfterAbandoned = func(ended time.Time) {
		if until := ended.Add(longest); until.After(d.busyUntil) {
			d.busyUntil = until
		}
	}
	return d, nil
}

// String names the device, e.g. "htu21d 0x40 on I2C1".
func (d *Dev) String() string { return d.name }

// Latest is the event Run sets to each reading or error state: its Value is
// the latest, its Wait returns at once once Run has read (the seed's
// "awaiting the sensor waits for the first values"), and any number of
// tasks may follow it with WaitNext.
func (d *Dev) Latest() *primitives.Event[Reading] { return &d.latest }

// Events returns the queue of every reading Run publishes, good or
// failed. One consumer takes them; another subscribes with Subscribe.
func (d *Dev) Events() *primitives.Queue[Reading] { return d.out.Events() }

// Subscribe returns a further queue of size readings that gets every
// reading from now on, for a second consumer; closing it unsubscribes.
func (d *Dev) Subscribe(size int) *primitives.Queue[Reading] { return d.out.Subscribe(size) }

// Stats returns the sensor's counters.
func (d *Dev) Stats() Stats {
	s := d.stats
	s.Dropped = d.out.Dropped()
	return s
}

// publish makes r the latest reading and queues it.
func (d *Dev) publish(r Reading) {
	d.latest.Set(r)
	d.out.Send(r)
}

// Run reads the sensor every period and publishes each Reading to Latest
// and to its queue (Events). The first reading starts at once; later ones
// start a period after the previous one started, so the schedule does not
// drift by the measuring time. A failed reading is published as an error
// state and retried after the back-off; Run never returns because of the
// sensor, only with its task's interruption (loop.ErrCancelled, or
// loop.ErrTimeout from an enclosing WaitFor).
//
// Run it as a task of its own; it may run again after it has returned,
// never twice at once (ErrRunning).
func (d *Dev) Run(t *loop.Task) error {
	if d.running {
		return ErrRunning
	}
	d.running = true
	defer func() { d.running = false }()
	p := i2cdev.Poller{Name: d.name, First: d.cfg.backoff, Max: d.cfg.maxBackoff}
	return p.Run(t, d.cfg.period, func(t *loop.Task) error {
		r, err := d.Read(t)
		if err == nil {
			d.stats.Readings++
			d.publish(r)
		}
		return err
	}, func(at time.Time, f drivers.Fault) {
		d.stats.Failures++
		d.publish(Reading{Time: at, Fault: f})
	})
}

// Read measures temperature, then humidity, and returns both: a no-hold
// trigger, the datasheet's measuring time awaited on the loop, then the
// three bytes read and their CRC checked, for each. It initialises the
// sensor first when needed (see New). It may be bounded with loop.WaitFor
// or loop.WaitForValue.
//
// A failure is a *drivers.DeviceError, and makes the next Read initialise
// the sensor again; an interruption returns the task's error as it is.
func (d *Dev) Read(t *loop.Task) (Reading, error) {
	var r Reading
	err := d.locked(t, func(t *loop.Task) error {
		if d.dev.NeedsInit() {
			if err := d.init(t); err != nil {
				return err
			}
		}
		rawT, err := d.measure(t, TriggerTemperatureNoHold, "temperature")
		if err != nil {
			return err
		}
		rawH, err := d.measure(t, TriggerHumidityNoHold, "humidity")
		if err != nil {
			return err
		}
		r = Reading{
			Celsius:        Celsius(rawT),
			Humidity:       Humidity(rawH),
			RawTemperature: rawT,
			RawHumidity:    rawH,
			Time:           t.Loop().Now(),
		}
		return nil
	})
	return r, err
}

// SoftReset restarts the sensor (command 0xFE), waits the datasheet's
// SoftResetTime on the loop, reads the user register and, if
// WithMeasurementResolution or SetResolution chose one, sets the resolution
// again, since a reset restores the default.
func (d *Dev) SoftReset(t *loop.Task) error {
	return d.locked(t, d.init)
}

// SetResolution changes the measurement resolution with a read-modify-write
// of the user register, keeping its other bits as the datasheet requires,
// and keeps it for later initialisations.
func (d *Dev) SetResolution(t *loop.Task, r Resolution) error {
	if r&^resolutionMask != 0 {
		return fmt.Errorf("htu21d: SetResolution(%#02x): not one of RH12T14, RH8T12, RH10T13, RH11T11", uint8(r))
	}
	return d.locked(t, func(t *loop.Task) error {
		d.cfg.resolution, d.cfg.setRes = r, true
		reg, err := d.readUserRegister(t)
		if err != nil {
			return err
		}
		return d.applyResolution(t, reg)
	})
}

// UserRegister reads the user register: resolution, EndOfBattery, Heater,
// DisableOTPReload.
func (d *Dev) UserRegister(t *loop.Task) (byte, error) {
	var reg byte
	err := d.locked(t, func(t *loop.Task) error {
		var err error
		reg, err = d.readUserRegister(t)
		return err
	})
	return reg, err
}

// locked runs fn holding the device's lock, once the sensor is idle; a
// device failure in it makes the next operation initialise the sensor
// again.
func (d *Dev) locked(t *loop.Task, fn loop.TaskFunc) error {
	return d.dev.Locked(t, func(t *loop.Task) error {
		if err := d.waitIdle(t); err != nil {
			return err
		}
		return fn(t)
	})
}

// init soft-resets the sensor and sets the chosen resolution.
func (d *Dev) init(t *loop.Task) error {
	if _, err := d.dev.Tx(t, []byte{SoftReset}, 0); err != nil {
		return d.fail("soft reset", err)
	}
	d.busyUntil = t.Loop().Now().Add(SoftResetTime)
	if err := d.waitIdle(t); err != nil {
		return err
	}
	reg, err := d.readUserRegister(t)
	if err != nil {
		return err
	}
	if err := d.applyResolution(t, reg); err != nil {
		return err
	}
	d.dev.Initialised()
	return nil
}

func (d *Dev) readUserRegister(t *loop.Task) (byte, error) {
	b, err := d.dev.Tx(t, []byte{ReadUserRegister}, 1)
	if err != nil {
		return 0, d.fail("read user register", err)
	}
	return b[0], nil
}

// applyResolution writes the configured resolution into reg if it differs,
// and records the resolution in effect.
func (d *Dev) applyResolution(t *loop.Task, reg byte) error {
	if d.cfg.setRes && ResolutionOf(reg) != d.cfg.resolution {
		if _, err := d.dev.Tx(t, []byte{WriteUserRegister, WithResolution(reg, d.cfg.resolution)}, 0); err != nil {
			return d.fail("write user register", err)
		}
		reg = WithResolution(reg, d.cfg.resolution)
	}
	d.res = ResolutionOf(reg)
	return nil
}

// measure triggers a no-hold measurement, awaits its measuring time and
// reads the result.
func (d *Dev) measure(t *loop.Task, cmd byte, what string) (uint16, error) {
	if _, err := d.dev.Tx(t, []byte{cmd}, 0); err != nil {
		return 0, d.fail("trigger "+what, err)
	}
	rhTime, tTime := d.res.MeasuringTime()
	wait := tTime
	if cmd == TriggerHumidityNoHold {
		wait = rhTime
	}
	// Recorded so that an operation interrupted here (a WaitFor expiring)
	// does not make the next one talk to a sensor still converting, which
	// would not acknowledge.
	d.busyUntil = t.Loop().Now().Add(wait)
	if err := d.waitIdle(t); err != nil {
		return 0, err
	}
	b, err := d.dev.Tx(t, nil, 3)
	if err != nil {
		return 0, d.fail("read "+what, err)
	}
	raw, err := ParseReading(b)
	if err != nil {
		return 0, d.fail(what, err)
	}
	return raw, nil
}

// waitIdle awaits the end of a conversion or reset in progress.
func (d *Dev) waitIdle(t *loop.Task) error {
	if wait := d.busyUntil.Sub(t.Loop().Now()); wait > 0 {
		return t.Sleep(wait)
	}
	return nil
}

// fail wraps a device failure; the task's interruptions pass unchanged.
func (d *Dev) fail(op string, err error) error { return i2cdev.Fail(d.name, op, err) }
