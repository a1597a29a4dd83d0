package adxl345

import (
	"errors"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/drivers/internal/i2cdev"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// Defaults of the driver's options.
const (
	// DefaultPeriod is Run's polling period: the seed's apoll polls its
	// accelerometer every 100 ms.
	DefaultPeriod = 100 * time.Millisecond
	// DefaultRate is the output data rate the driver sets: 12.5 Hz, just
	// above the default polling rate, whose 6.25 Hz bandwidth keeps the
	// noise low and limits what polling at 10 Hz aliases.
	DefaultRate = Rate12_5Hz
	// DefaultRange is the measuring range the driver sets, with full
	// resolution (3.9 mg per count at every range).
	DefaultRange = Range2G
	// DefaultThreshold is the change, in g, that Run reports: about 13
	// counts at 3.9 mg, well above the chip's noise at 12.5 Hz.
	DefaultThreshold = 0.05
	// DefaultSmoothing is the weight of a new reading in Run's exponential
	// moving average: with 100 ms polls the average follows a step to 90 %
	// in 0.8 s.
	DefaultSmoothing = 0.25
	// DefaultBackoff is the wait before the first retry after a failed
	// poll; each further failure doubles it up to DefaultMaxBackoff.
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = time.Minute
)

// turnOnTime is the datasheet's wake-up time from standby to measurement,
// before the first sample (one sample period) is ready.
const turnOnTime = 1100 * time.Microsecond

// A ThresholdMode says how Run compares the smoothed acceleration with the
// last reported one.
type ThresholdMode uint8

const (
	// Distance reports when the vector between the two is longer than the
	// threshold: the seed's apoll test. It sees tilting and shaking alike.
	Distance ThresholdMode = iota
	// PerAxis reports when any one axis changed by more than the threshold:
	// a box-shaped dead zone, slightly wider than Distance's sphere along
	// diagonals.
	PerAxis
	// Magnitude reports when the length of the acceleration changed by more
	// than the threshold. It ignores orientation — a slow tilt leaves the
	// length at 1 g — and sees shocks, vibration and free fall.
	Magnitude
)

func (m ThresholdMode) String() string {
	switch m {
	case Distance:
		return "distance"
	case PerAxis:
		return "per-axis"
	case Magnitude:
		return "magnitude"
	}
	return fmt.Sprintf("ThresholdMode(%d)", uint8(m))
}

// exceeds reports whether a differs from ref by more than threshold.
func (m ThresholdMode) exceeds(a, ref Vector, threshold float64) bool {
	d := Vector{a.X - ref.X, a.Y - ref.Y, a.Z - ref.Z}
	switch m {
	case PerAxis:
		return math.Abs(d.X) > threshold || math.Abs(d.Y) > threshold || math.Abs(d.Z) > threshold
	case Magnitude:
		return math.Abs(a.Magnitude()-ref.Magnitude()) > threshold
	default:
		return d.Magnitude() > threshold
	}
}

// A Sample is what Run publishes: a change beyond the threshold, a "still"
// notice, or the error state of a failed poll.
type Sample struct {
	// Smoothed is the exponential moving average of the readings, in g: the
	// value the threshold applies to.
	Smoothed Vector
	// Raw is the latest reading, in g.
	Raw Vector
	// Time is the loop clock at the poll.
	Time time.Time
	// Still marks a sample published because nothing had changed for the
	// WithStillTimeout duration (the seed's "timeout waiting for
	// accelerometer change").
	Still bool

	// Err is non-nil in an error state: the poll failed and the vectors
	// are zero. It is a *DeviceError.
	Err error
	// Failures counts the consecutive failed polls, this one included; 0
	// in a good sample.
	Failures int
	// RetryIn is, in an error state, how long Run waits before trying again.
	RetryIn time.Duration
}

// A DeviceError is the error of an operation on the accelerometer. It
// names the device (address and bus) and the step that failed, and wraps
// the cause: the bus's error (a NACK: the chip is absent or wedged) or
// ErrDeviceID.
type DeviceError struct {
	Addr uint16 // the chip's I2C address
	Bus  string // the bus's name (its String method)
	Op   string // what failed, e.g. "read DATAX0–DATAZ1"
	Err  error
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("adxl345 0x%02x on %s: %s: %v", e.Addr, e.Bus, e.Op, e.Err)
}

func (e *DeviceError) Unwrap() error { return e.Err }

// An Option configures a Dev in New.
type Option func(*config)

type config struct {
	addr       uint16
	rate       Rate
	format     Format
	period     time.Duration
	threshold  float64
	mode       ThresholdMode
	alpha      float64
	still      time.Duration
	backoff    time.Duration
	maxBackoff time.Duration
	offload    bool
	queue      *primitives.Queue[Sample]
	errs       []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("adxl345: "+format, args...))
}

// WithAddress selects the chip's address: AddressAltLow (0x53, the
// default) or AddressAltHigh (0x1D), as its ALT ADDRESS pin is wired.
func WithAddress(addr uint16) Option {
	return func(c *config) {
		if addr != AddressAltLow && addr != AddressAltHigh {
			c.fail("WithAddress(%#02x): the ADXL345 answers at 0x53 (ALT ADDRESS low) or 0x1d (high)", addr)
		}
		c.addr = addr
	}
}

// WithRate sets the output data rate (default DefaultRate). Poll no faster
// than it: a poll between two samples reads the previous one again.
func WithRate(r Rate) Option {
	return func(c *config) {
		if r > Rate3200Hz {
			c.fail("WithRate(%d): no such rate code (0–15)", uint8(r))
		}
		c.rate = r
	}
}

// WithRange sets the measuring range (default DefaultRange).
func WithRange(r Range) Option {
	return func(c *config) {
		if r > Range16G {
			c.fail("WithRange(%d): no such range (Range2G … Range16G)", uint8(r))
		}
		c.format.Range = r
	}
}

// WithFullResolution chooses full resolution, 3.9 mg per count at every
// range (the default), or the fixed 10 bits whose step grows with the range.
func WithFullResolution(on bool) Option {
	return func(c *config) { c.format.FullResolution = on }
}

// WithPeriod sets the time between the starts of Run's polls (default
// DefaultPeriod).
func WithPeriod(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("WithPeriod(%v): the period must be positive", d)
		}
		c.period = d
	}
}

// WithThreshold sets the change Run reports, in g, and how it is measured
// (default DefaultThreshold, Distance). A change must exceed it; zero
// reports every change.
func WithThreshold(g float64, mode ThresholdMode) Option {
	return func(c *config) {
		if !(g >= 0) || math.IsInf(g, 1) {
			c.fail("WithThreshold(%v, %v): the threshold must be a finite number of g, ≥ 0", g, mode)
		}
		if mode > Magnitude {
			c.fail("WithThreshold(%v, %v): no such mode", g, mode)
		}
		c.threshold, c.mode = g, mode
	}
}

// WithSmoothing sets the weight alpha of each new reading in Run's
// exponential moving average, 0 < alpha ≤ 1: smoothed += alpha·(reading −
// smoothed). 1 turns smoothing off; smaller is smoother and slower (the
// time constant is about period/alpha). Default DefaultSmoothing.
func WithSmoothing(alpha float64) Option {
	return func(c *config) {
		if !(alpha > 0 && alpha <= 1) {
			c.fail("WithSmoothing(%v): alpha must be in (0, 1]", alpha)
		}
		c.alpha = alpha
	}
}

// WithStillTimeout makes Run publish a Still sample whenever d passes
// without a reported change (the seed reports every 2 s). Zero, the
// default, publishes only changes.
func WithStillTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail("WithStillTimeout(%v): must not be negative", d)
		}
		c.still = d
	}
}

// WithBackoff sets Run's retry schedule after failed polls: first after the
// first failure, doubling with each further one, never more than max
// (defaults DefaultBackoff and DefaultMaxBackoff). A good poll restores the
// period.
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) {
		if first <= 0 || max < first {
			c.fail("WithBackoff(%v, %v): want 0 < first ≤ max", first, max)
		}
		c.backoff, c.maxBackoff = first, max
	}
}

// WithOffload runs each bus transfer through loop.Offload instead of on the
// loop. A poll is one transfer of about 84 bit times — 0.85 ms at 100 kHz,
// 0.2 ms at 400 kHz — so the default is inline; see the htu21d package's
// BenchmarkTransfer for what each choice costs.
func WithOffload() Option {
	return func(c *config) { c.offload = true }
}

// WithQueue makes Run also put every sample it publishes to q, with
// PutDropOldest: a slow consumer loses the oldest samples rather than
// delaying the polls; on a closed queue samples go to the event only.
func WithQueue(q *primitives.Queue[Sample]) Option {
	return func(c *config) {
		if q == nil {
			c.fail("WithQueue(nil)")
		}
		c.queue = q
	}
}

// A Dev is an ADXL345 on an I2C bus, driven from tasks of one loop.
//
// Run is the polling task; Read reads on demand; both may run at once,
// since a lock serialises the chip's transactions. A Dev does not own the
// bus and never closes it.
type Dev struct {
	dev *i2cdev.Dev // NeedsInit at first, and after an error
	out *i2cdev.Outlet[Sample]
	bus string
	cfg config
}

// New returns a driver for the chip on bus. It performs no I/O: the chip is
// checked and configured by Init, or the first Read or Run. Invalid options
// are reported here.
func New(bus i2c.Bus, opts ...Option) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("adxl345: New: nil bus")
	}
	cfg := config{
		addr:       AddressAltLow,
		rate:       DefaultRate,
		format:     Format{Range: DefaultRange, FullResolution: true},
		period:     DefaultPeriod,
		threshold:  DefaultThreshold,
		alpha:      DefaultSmoothing,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	cfg.errs = nil
	return &Dev{
		dev: i2cdev.New(&i2c.Dev{Bus: bus, Addr: cfg.addr}, cfg.offload),
		out: i2cdev.NewOutlet(cfg.queue),
		bus: bus.String(),
		cfg: cfg,
	}, nil
}

// String names the device, e.g. "adxl345 0x53 on I2C1".
func (d *Dev) String() string { return fmt.Sprintf("adxl345 0x%02x on %s", d.cfg.addr, d.bus) }

// Format returns the sample format the driver sets.
func (d *Dev) Format() Format { return d.cfg.format }

// Latest is the event Run sets to each sample it publishes: its Value is
// the latest reported state, and its Wait returns at once once Run has
// polled.
func (d *Dev) Latest() *primitives.Event[Sample] { return d.out.Latest() }

// Init checks the device id and configures the chip: standby, data rate,
// data format, FIFO bypassed, then measurement mode; it then awaits the
// first sample (the turn-on time plus one sample period). Read and Run call
// it when needed: at first and after an error.
func (d *Dev) Init(t *loop.Task) error {
	return d.dev.Locked(t, d.init)
}

func (d *Dev) init(t *loop.Task) error {
	b, err := d.dev.Tx(t, []byte{RegDevID}, 1)
	if err != nil {
		return d.fail("read DEVID", err)
	}
	if err := CheckDeviceID(b[0]); err != nil {
		return d.fail("check device id", err)
	}
	for _, w := range []struct {
		reg, value byte
		name       string
	}{
		{RegPowerCtl, 0, "standby (POWER_CTL)"},
		{RegBWRate, byte(d.cfg.rate), "set data rate (BW_RATE)"},
		{RegDataFormat, d.cfg.format.Byte(), "set data format (DATA_FORMAT)"},
		{RegFIFOCtl, 0, "bypass the FIFO (FIFO_CTL)"},
		{RegPowerCtl, PowerMeasure, "measure (POWER_CTL)"},
	} {
		if _, err := d.dev.Tx(t, []byte{w.reg, w.value}, 0); err != nil {
			return d.fail(w.name, err)
		}
	}
	settle := time.Duration(float64(time.Second)/d.cfg.rate.Hz()) + turnOnTime
	if err := t.Sleep(settle); err != nil {
		return err
	}
	d.dev.Initialised()
	return nil
}

// Read returns the current acceleration in g, read in one transfer of the
// six data registers (so the axes belong to one sample), initialising the
// chip first when needed. It may be bounded with loop.WaitFor or
// loop.WaitForValue.
//
// A failure is a *DeviceError and makes the next Read initialise the chip
// again; an interruption returns the task's error as it is.
func (d *Dev) Read(t *loop.Task) (Vector, error) {
	var v Vector
	err := d.dev.Locked(t, func(t *loop.Task) error {
		if d.dev.NeedsInit() {
			if err := d.init(t); err != nil {
				return err
			}
		}
		b, err := d.dev.Tx(t, []byte{RegDataX0}, 6)
		if err != nil {
			return d.fail("read DATAX0–DATAZ1", err)
		}
		if v, err = ParseSample(b, d.cfg.format); err != nil {
			return d.fail("read DATAX0–DATAZ1", err)
		}
		if v == (Vector{}) {
			return d.checkPower(t)
		}
		return nil
	})
	return v, err
}

// checkPower tells an all-zero sample from a reset chip. A chip that
// power-cycled without a bus error answers from standby, its data
// registers reset to zero; a measuring chip reads exactly zero on all
// three axes only in rare moments of free fall. So only then POWER_CTL is
// read (one more transfer), and a chip no longer measuring is an error
// that makes the next operation initialise it again.
func (d *Dev) checkPower(t *loop.Task) error {
	const op = "check POWER_CTL after an all-zero sample"
	b, err := d.dev.Tx(t, []byte{RegPowerCtl}, 1)
	if err != nil {
		return d.fail(op, err)
	}
	if b[0]&PowerMeasure == 0 {
		return d.fail(op, ErrReset)
	}
	return nil
}

// Run polls the chip every period — the first poll at once, later ones a
// period after the previous one started — and smooths the readings with an
// exponential moving average. It publishes to Latest and to the WithQueue
// queue the first sample, then each one whose smoothed value differs from
// the last published by more than the threshold, and Still samples if
// WithStillTimeout asks for them. Changes below the threshold accumulate:
// a slow drift is reported once it adds up.
//
// A failed poll is published as an error state and retried after the
// back-off; after it, smoothing starts over and the first good sample is
// published. Run never returns because of the chip, only with its task's
// interruption.
func (d *Dev) Run(t *loop.Task) error {
	l := t.Loop()
	retry := i2cdev.Retry{First: d.cfg.backoff, Max: d.cfg.maxBackoff}
	var (
		fresh      = true // no good sample since the start or an error
		smoothed   Vector
		reported   Vector
		lastReport time.Time
	)
	for {
		start := l.Now()
		v, err := d.Read(t)
		if i2cdev.Interrupted(err) {
			return err
		}
		next := start.Add(d.cfg.period)
		now := l.Now()
		switch {
		case err != nil:
			failures, wait := retry.Fail()
			d.out.Publish(Sample{Time: now, Err: err, Failures: failures, RetryIn: wait})
			next, fresh = now.Add(wait), true
			if failures == 1 {
				l.Logger().Warn("adxl345: poll failed; retrying with back-off", "device", d.String(), "err", err, "retry_in", wait)
			}
		case fresh:
			if failures := retry.Succeed(); failures > 0 {
				l.Logger().Info("adxl345: polling again", "device", d.String(), "after_failures", failures)
			}
			fresh = false
			smoothed, reported, lastReport = v, v, now
			d.out.Publish(Sample{Smoothed: v, Raw: v, Time: now})
		default:
			a := d.cfg.alpha
			smoothed = Vector{
				smoothed.X + a*(v.X-smoothed.X),
				smoothed.Y + a*(v.Y-smoothed.Y),
				smoothed.Z + a*(v.Z-smoothed.Z),
			}
			switch {
			case d.cfg.mode.exceeds(smoothed, reported, d.cfg.threshold):
				reported, lastReport = smoothed, now
				d.out.Publish(Sample{Smoothed: smoothed, Raw: v, Time: now})
			case d.cfg.still > 0 && now.Sub(lastReport) >= d.cfg.still:
				lastReport = now
				d.out.Publish(Sample{Smoothed: smoothed, Raw: v, Time: now, Still: true})
			}
		}
		if err := t.Sleep(next.Sub(l.Now())); err != nil {
			return err
		}
	}
}

// fail wraps a device failure; the task's interruptions pass unchanged.
func (d *Dev) fail(op string, err error) error {
	if i2cdev.Interrupted(err) {
		return err
	}
	return &DeviceError{Addr: d.cfg.addr, Bus: d.bus, Op: op, Err: err}
}
