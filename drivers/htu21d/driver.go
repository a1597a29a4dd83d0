package htu21d

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/drivers/internal/i2cdev"
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

// A Reading is one measurement of both quantities, or the error state of a
// failed one. Run publishes both kinds.
type Reading struct {
	Celsius  float64 // temperature, °C
	Humidity float64 // relative humidity, %, clamped to 0–100

	// The raw values as read, status bits included, for callers that want
	// their own conversion (unclamped humidity, say).
	RawTemperature, RawHumidity uint16

	// Time is the loop clock when the reading completed, or failed.
	Time time.Time

	// Err is non-nil in an error state: the reading failed and the values
	// above are zero. It is a *DeviceError.
	Err error
	// Failures counts the consecutive failed readings, this one included;
	// it is 0 in a good reading.
	Failures int
	// RetryIn is, in an error state, how long Run waits before trying again.
	RetryIn time.Duration
}

// A DeviceError is the error of an operation on the sensor. It names the
// device (address and bus) and the step that failed, and wraps the cause:
// the bus's error (a NACK: the sensor is absent, busy or wedged), or ErrCRC
// or ErrLength quoting the bytes read.
type DeviceError struct {
	Addr uint16 // the sensor's I2C address
	Bus  string // the bus's name (its String method)
	Op   string // what failed, e.g. "read temperature"
	Err  error
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("htu21d 0x%02x on %s: %s: %v", e.Addr, e.Bus, e.Op, e.Err)
}

func (e *DeviceError) Unwrap() error { return e.Err }

// An Option configures a Dev in New.
type Option func(*config)

type config struct {
	period     time.Duration
	resolution Resolution
	setRes     bool
	backoff    time.Duration
	maxBackoff time.Duration
	offload    bool
	queue      *primitives.Queue[Reading]
	errs       []error
}

// WithPeriod sets the time between the starts of Run's readings (default
// DefaultPeriod). A reading takes the two measuring times (66 ms at full
// resolution), so a shorter period reads back to back.
func WithPeriod(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("htu21d: WithPeriod(%v): the period must be positive", d))
		}
		c.period = d
	}
}

// WithMeasurementResolution makes the driver set the sensor's resolution
// whenever it initialises it (at the first reading, after a soft reset and
// after an error), with a read-modify-write of the user register. Without
// it the driver uses the power-up default, RH12T14. Lower resolutions
// measure faster: see Resolution.MeasuringTime.
func WithMeasurementResolution(r Resolution) Option {
	return func(c *config) {
		if r&^resolutionMask != 0 {
			c.errs = append(c.errs, fmt.Errorf("htu21d: WithMeasurementResolution(%#02x): not one of RH12T14, RH8T12, RH10T13, RH11T11", uint8(r)))
		}
		c.resolution, c.setRes = r, true
	}
}

// WithBackoff sets Run's retry schedule after failed readings: first after
// the first failure, doubling with each further one, never more than max
// (defaults DefaultBackoff and DefaultMaxBackoff). A good reading restores
// the period.
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) {
		if first <= 0 || max < first {
			c.errs = append(c.errs, fmt.Errorf("htu21d: WithBackoff(%v, %v): want 0 < first ≤ max", first, max))
		}
		c.backoff, c.maxBackoff = first, max
	}
}

// WithOffload runs each bus transfer through loop.Offload instead of on the
// loop. Inline (the default), a transfer holds the loop for its bus time:
// at 100 kHz at most about 0.4 ms (38 bit times for a 3-byte result), four
// transfers per reading — far below the loop's hog threshold. Offloaded,
// the loop runs on meanwhile, and each transfer pays a goroutine hand-off:
// about 3 µs with an idle loop, 75 µs or more while other tasks keep the
// loop busy (BenchmarkTransfer). Offload for slow buses (bit-banged, 10 kHz)
// or buses other processes may hold.
func WithOffload() Option {
	return func(c *config) { c.offload = true }
}

// WithQueue makes Run also put every reading, good or failed, to q. It uses
// PutDropOldest, so a slow consumer loses the oldest readings rather than
// delaying the sensor; on a closed queue readings go to the event only.
func WithQueue(q *primitives.Queue[Reading]) Option {
	return func(c *config) {
		if q == nil {
			c.errs = append(c.errs, errors.New("htu21d: WithQueue(nil)"))
		}
		c.queue = q
	}
}

// A Dev is an HTU21D on an I2C bus, driven from tasks of one loop.
//
// Run is the periodic task; Read measures on demand; both may run at once,
// since a lock serialises the sensor's transactions. A Dev does not own the
// bus and never closes it.
type Dev struct {
	dev  *i2cdev.Dev // NeedsInit at first, and after an error: reset and configure
	out  *i2cdev.Outlet[Reading]
	addr uint16
	bus  string
	cfg  config

	res       Resolution // the sensor's resolution, once initialised
	busyUntil time.Time  // a conversion or reset runs until then
}

// New returns a driver for the sensor at Address on bus. It performs no I/O:
// the sensor is reset and configured by the first Read (or Run, or
// SoftReset). Invalid options are reported here.
func New(bus i2c.Bus, opts ...Option) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("htu21d: New: nil bus")
	}
	cfg := config{period: DefaultPeriod, backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff}
	for _, o := range opts {
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	cfg.errs = nil
	d := &Dev{
		dev:  i2cdev.New(&i2c.Dev{Bus: bus, Addr: Address}, cfg.offload),
		out:  i2cdev.NewOutlet(cfg.queue),
		addr: Address,
		bus:  bus.String(),
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
func (d *Dev) String() string { return fmt.Sprintf("htu21d 0x%02x on %s", d.addr, d.bus) }

// Latest is the event Run sets to each reading or error state: its Value is
// the latest, and its Wait returns at once once Run has read (the seed's
// "awaiting the sensor waits for the first values").
func (d *Dev) Latest() *primitives.Event[Reading] { return d.out.Latest() }

// Run reads the sensor every period and publishes each Reading to Latest
// and to the WithQueue queue. The first reading starts at once; later ones
// start a period after the previous one started, so the schedule does not
// drift by the measuring time. A failed reading is published as an error
// state and retried after the back-off; Run never returns because of the
// sensor, only with its task's interruption (loop.ErrCancelled, or
// loop.ErrTimeout from an enclosing WaitFor).
func (d *Dev) Run(t *loop.Task) error {
	l := t.Loop()
	retry := i2cdev.Retry{First: d.cfg.backoff, Max: d.cfg.maxBackoff}
	for {
		start := l.Now()
		r, err := d.Read(t)
		if i2cdev.Interrupted(err) {
			return err
		}
		next := start.Add(d.cfg.period)
		if err != nil {
			failures, wait := retry.Fail()
			r = Reading{Time: l.Now(), Err: err, Failures: failures, RetryIn: wait}
			next = r.Time.Add(wait)
			if failures == 1 {
				l.Logger().Warn("htu21d: reading failed; retrying with back-off", "device", d.String(), "err", err, "retry_in", wait)
			}
		} else if failures := retry.Succeed(); failures > 0 {
			l.Logger().Info("htu21d: reading again", "device", d.String(), "after_failures", failures)
		}
		d.out.Publish(r)
		if err := t.Sleep(next.Sub(l.Now())); err != nil {
			return err
		}
	}
}

// Read measures temperature, then humidity, and returns both: a no-hold
// trigger, the datasheet's measuring time awaited on the loop, then the
// three bytes read and their CRC checked, for each. It initialises the
// sensor first when needed (see New). It may be bounded with loop.WaitFor
// or loop.WaitForValue.
//
// A failure is a *DeviceError, and makes the next Read initialise the
// sensor again; an interruption returns the task's error as it is.
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
func (d *Dev) fail(op string, err error) error {
	if i2cdev.Interrupted(err) {
		return err
	}
	return &DeviceError{Addr: d.addr, Bus: d.bus, Op: op, Err: err}
}
