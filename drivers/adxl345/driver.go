package adxl345

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// DefaultQueueSize bounds the queue of samples (Events).
const DefaultQueueSize = 32

// ErrRunning is returned by Run while the chip's Run is running.
var ErrRunning = errors.New("adxl345: Run is already running")

// A Sample is what Run publishes: a change beyond the threshold, a "still"
// notice, or the error state of a failed poll (its Fault set, the vectors
// zero).
//
// Its JSON is {"time":…,"x":0,"y":0.5,"z":0.87,"raw":{"x":…,"y":…,"z":…}}
// (the smoothed vector, and the latest reading as raw), with "still":true
// for a still notice, or for an error state {"time":…,"error":"…",
// "failures":1,"retry_in_s":1}.
type Sample struct {
	// Smoothed is the exponential moving average of the readings, in g: the
	// value the threshold applies to.
	Smoothed Vector
	// Raw is the latest reading, in g.
	Raw Vector
	// Time is the loop clock at the poll; with WithFIFO, the sample's
	// own time, within a sample period.
	Time time.Time
	// Still marks a sample published because nothing had changed for the
	// WithStillTimeout duration (the seed's "timeout waiting for
	// accelerometer change").
	Still bool

	// Fault is set in an error state: Err (a *drivers.DeviceError),
	// Failures in a row, RetryIn.
	drivers.Fault
}

// MarshalJSON gives the wire form described on Sample.
func (s Sample) MarshalJSON() ([]byte, error) {
	type values struct {
		X     float64 `json:"x"`
		Y     float64 `json:"y"`
		Z     float64 `json:"z"`
		Raw   Vector  `json:"raw"`
		Still bool    `json:"still,omitempty"`
	}
	w := struct {
		Time time.Time `json:"time"`
		*values
		drivers.FaultJSON
	}{Time: s.Time, FaultJSON: s.Fault.JSON()}
	if !s.Failed() {
		w.values = &values{s.Smoothed.X, s.Smoothed.Y, s.Smoothed.Z, s.Raw, s.Still}
	}
	return json.Marshal(w)
}

// Stats counts a chip's polls.
type Stats struct {
	Polls     uint64 // good polls by Run
	Published uint64 // samples published
	Failures  uint64 // failed polls by Run
	Resets    uint64 // silent power cycles noticed (ErrReset)
	Dropped   uint64 // samples lost because a queue was full or closed
	Samples   uint64 // samples read from the FIFO (WithFIFO)
	Overruns  uint64 // FIFO reads that found it full: older samples may be lost (WithFIFO)
}

// An Option configures a Dev in New.
type Option func(*config) error

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
	fifo       bool
	queueSize  int
	onEvent    func(Sample)
}

const pkg = "adxl345"

func bad(call, format string, args ...any) error {
	return option.Errorf(pkg, call, format, args...)
}

// WithAddress selects the chip's address: AddressAltLow (0x53, the
// default) or AddressAltHigh (0x1D), as its ALT ADDRESS pin is wired.
func WithAddress(addr uint16) Option {
	return func(c *config) error {
		if addr != AddressAltLow && addr != AddressAltHigh {
			return bad(fmt.Sprintf("WithAddress(%#02x)", addr), "the ADXL345 answers at 0x53 (ALT ADDRESS low) or 0x1d (high)")
		}
		return option.Set(&c.addr, addr)
	}
}

// WithRate sets the output data rate (default DefaultRate). Poll no faster
// than it: a poll between two samples reads the previous one again.
func WithRate(r Rate) Option {
	return func(c *config) error {
		if r > Rate3200Hz {
			return bad(fmt.Sprintf("WithRate(%d)", uint8(r)), "no such rate code (0–15)")
		}
		return option.Set(&c.rate, r)
	}
}

// WithRange sets the measuring range (default DefaultRange).
func WithRange(r Range) Option {
	return func(c *config) error {
		if r > Range16G {
			return bad(fmt.Sprintf("WithRange(%d)", uint8(r)), "no such range (Range2G … Range16G)")
		}
		return option.Set(&c.format.Range, r)
	}
}

// WithFullResolution chooses full resolution, 3.9 mg per count at every
// range (the default), or the fixed 10 bits whose step grows with the range.
func WithFullResolution(on bool) Option {
	return func(c *config) error { return option.Set(&c.format.FullResolution, on) }
}

// WithPeriod sets the time between the starts of Run's polls (default
// DefaultPeriod).
func WithPeriod(d time.Duration) Option {
	return func(c *config) error { return option.Positive(pkg, "WithPeriod", &c.period, d) }
}

// WithThreshold sets the change Run reports, in g, and how it is measured
// (default DefaultThreshold, Distance). A change must exceed it; zero
// reports every change.
func WithThreshold(g float64, mode ThresholdMode) Option {
	return func(c *config) error {
		call := fmt.Sprintf("WithThreshold(%v, %v)", g, mode)
		if !(g >= 0) || math.IsInf(g, 1) {
			return bad(call, "the threshold must be a finite number of g, ≥ 0")
		}
		if mode > Magnitude {
			return bad(call, "no such mode")
		}
		c.threshold, c.mode = g, mode
		return nil
	}
}

// WithSmoothing sets the weight alpha of each new reading in Run's
// exponential moving average, 0 < alpha ≤ 1: smoothed += alpha·(reading −
// smoothed). 1 turns smoothing off; smaller is smoother and slower (the
// time constant is about period/alpha). Default DefaultSmoothing.
func WithSmoothing(alpha float64) Option {
	return func(c *config) error {
		if !(alpha > 0 && alpha <= 1) {
			return bad(fmt.Sprintf("WithSmoothing(%v)", alpha), "alpha must be in (0, 1]")
		}
		return option.Set(&c.alpha, alpha)
	}
}

// WithStillTimeout makes Run publish a Still sample whenever d passes
// without a reported change (the seed reports every 2 s). Zero, the
// default, publishes only changes.
func WithStillTimeout(d time.Duration) Option {
	return func(c *config) error { return option.NonNegative(pkg, "WithStillTimeout", &c.still, d) }
}

// WithBackoff sets Run's retry schedule after failed polls: first after the
// first failure, doubling with each further one, never more than max
// (defaults DefaultBackoff and DefaultMaxBackoff). A good poll restores the
// period.
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) error { return option.Backoff(pkg, &c.backoff, &c.maxBackoff, first, max) }
}

// WithOffload runs each bus transfer on a goroutine of its own instead of
// on the loop. A poll is one transfer of about 84 bit times — 0.85 ms at
// 100 kHz, 0.2 ms at 400 kHz — so the default is inline; see the htu21d
// package's BenchmarkTransfer for what each choice costs.
func WithOffload() Option {
	return func(c *config) error { return option.Set(&c.offload, true) }
}

// WithFIFO keeps the chip's samples in its FIFO (stream mode) and makes
// Run read every sample since its last poll, not only the latest: a poll
// period longer than the sample period — a second at 12.5 Hz, one wake-up
// a second — misses no movement. Every sample goes through the smoothing
// and the threshold, and a published Sample's Time is the sample's own,
// reckoned back from the read that took it by the data rate (the newest
// stamped with the read's time), so within a sample period. The FIFO holds FIFOSize
// samples: at a rate that fills it between two polls the oldest are lost,
// counted in Stats.Overruns. A poll is a transfer for FIFO_STATUS and one
// per sample, each in a turn of its own. Read returns the newest sample;
// the older ones it takes from the FIFO still reach Run.
func WithFIFO() Option {
	return func(c *config) error { return option.Set(&c.fifo, true) }
}

// WithQueueSize bounds the queue of samples (default DefaultQueueSize).
// When nobody takes them, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.queueSize, n) }
}

// OnEvent calls fn on the loop with every sample Run publishes, before it
// is queued. fn must not block.
func OnEvent(fn func(Sample)) Option {
	return func(c *config) error { return option.Set(&c.onEvent, fn) }
}

// A Dev is an ADXL345 on an I2C bus, driven from tasks of one loop.
//
// Run is the polling task; Read reads on demand; both may run at once,
// since a lock serialises the chip's transactions. A Dev does not own the
// bus and never closes it.
type Dev struct {
	dev     *i2cdev.Dev // NeedsInit at first, and after an error
	out     *outlet.Outlet[Sample]
	latest  primitives.Event[Sample]
	name    string
	cfg     config
	stats   Stats
	running bool

	backlog []timed // WithFIFO: samples read from the FIFO that Run has not taken
	newest  Vector  // WithFIFO: the newest sample read
}

// timed is a sample with the time it was taken.
type timed struct {
	v  Vector
	at time.Time
}

// New returns a driver for the chip on bus, reporting every bad option. It
// performs no I/O: the chip is checked and configured by Init, or the first
// Read or Run.
func New(bus i2c.Bus, opts ...Option) (*Dev, error) {
	cfg := config{
		addr:       AddressAltLow,
		rate:       DefaultRate,
		format:     Format{Range: DefaultRange, FullResolution: true},
		period:     DefaultPeriod,
		threshold:  DefaultThreshold,
		alpha:      DefaultSmoothing,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
		queueSize:  DefaultQueueSize,
	}
	err := option.Apply(&cfg, opts)
	if bus == nil {
		err = errors.Join(errors.New("adxl345: New: nil bus"), err)
	}
	if err != nil {
		return nil, err
	}
	return &Dev{
		dev:  i2cdev.New(&i2c.Dev{Bus: bus, Addr: cfg.addr}, cfg.offload),
		out:  outlet.New(cfg.queueSize, cfg.onEvent),
		name: fmt.Sprintf("adxl345 0x%02x on %s", cfg.addr, bus),
		cfg:  cfg,
	}, nil
}

// String names the device, e.g. "adxl345 0x53 on I2C1".
func (d *Dev) String() string { return d.name }

// Format returns the sample format the driver sets.
func (d *Dev) Format() Format { return d.cfg.format }

// Latest is the event Run sets to each sample it publishes: its Value is
// the latest reported state, its Wait returns at once once Run has
// polled, and any number of tasks may follow it with WaitNext.
func (d *Dev) Latest() *primitives.Event[Sample] { return &d.latest }

// Events returns the queue of every sample Run publishes. One consumer
// takes them; another subscribes with Subscribe.
func (d *Dev) Events() *primitives.Queue[Sample] { return d.out.Events() }

// Subscribe returns a further queue of size samples that gets every sample
// from now on, for a second consumer; closing it unsubscribes.
func (d *Dev) Subscribe(size int) *primitives.Queue[Sample] { return d.out.Subscribe(size) }

// Stats returns the chip's counters.
func (d *Dev) Stats() Stats {
	s := d.stats
	s.Dropped = d.out.Dropped()
	return s
}

// publish makes s the latest sample and queues it.
func (d *Dev) publish(s Sample) {
	d.stats.Published++
	d.latest.Set(s)
	d.out.Send(s)
}

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
		{RegFIFOCtl, d.fifoCtl(), "set the FIFO mode (FIFO_CTL)"},
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
// A failure is a *drivers.DeviceError and makes the next Read initialise
// the chip again; an interruption returns the task's error as it is.
func (d *Dev) Read(t *loop.Task) (Vector, error) {
	var v Vector
	err := d.dev.Locked(t, func(t *loop.Task) error {
		if d.dev.NeedsInit() {
			if err := d.init(t); err != nil {
				return err
			}
		}
		if d.cfg.fifo {
			err := d.drain(t)
			v = d.newest
			return err
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

// fifoCtl is FIFO_CTL as the driver sets it.
func (d *Dev) fifoCtl() byte {
	if d.cfg.fifo {
		return FIFOStream
	}
	return FIFOBypass
}

// drain reads every sample waiting in the FIFO into the backlog (the
// latest FIFOSize of them, should Run not take them), and the newest as
// the newest. An empty FIFO, or an all-zero sample, makes it check that the
// chip still measures: a chip that reset is in standby with its FIFO
// bypassed and empty.
func (d *Dev) drain(t *loop.Task) error {
	b, err := d.dev.Tx(t, []byte{RegFIFOStatus}, 1)
	if err != nil {
		return d.fail("read FIFO_STATUS", err)
	}
	n := int(b[0] & FIFOEntriesMask)
	if n >= FIFOSize {
		d.stats.Overruns++
	}
	now := t.Loop().Now()
	period := time.Duration(float64(time.Second) / d.cfg.rate.Hz())
	check := n == 0
	for i := range n {
		b, err := d.dev.Tx(t, []byte{RegDataX0}, 6)
		if err != nil {
			return d.fail("read the FIFO (DATAX0–DATAZ1)", err)
		}
		v, err := ParseSample(b, d.cfg.format)
		if err != nil {
			return d.fail("read the FIFO (DATAX0–DATAZ1)", err)
		}
		check = check || v == (Vector{})
		d.stats.Samples++
		d.newest = v
		if len(d.backlog) == FIFOSize {
			d.backlog = d.backlog[1:]
		}
		d.backlog = append(d.backlog, timed{v, now.Add(-time.Duration(n-1-i) * period)})
	}
	if check {
		return d.checkPower(t)
	}
	return nil
}

// poll reads what Run goes on: the latest sample, or with WithFIFO every
// sample since the last poll (none when the chip took none meanwhile).
func (d *Dev) poll(t *loop.Task) ([]timed, error) {
	if !d.cfg.fifo {
		v, err := d.Read(t)
		if err != nil {
			return nil, err
		}
		return []timed{{v, t.Loop().Now()}}, nil
	}
	err := d.dev.Locked(t, func(t *loop.Task) error {
		if d.dev.NeedsInit() {
			d.backlog = nil // from before the error: the chip starts over
			if err := d.init(t); err != nil {
				return err
			}
		}
		return d.drain(t)
	})
	got := d.backlog
	d.backlog = nil
	if err != nil {
		return nil, err
	}
	return got, nil
}

// Run polls the chip every period — the first poll at once, later ones a
// period after the previous one started — and smooths the readings with an
// exponential moving average. It publishes to Latest and to its queue
// (Events) the first sample, then each one whose smoothed value differs from
// the last published by more than the threshold, and Still samples if
// WithStillTimeout asks for them. Changes below the threshold accumulate:
// a slow drift is reported once it adds up.
//
// A failed poll is published as an error state and retried after the
// back-off; after it, smoothing starts over and the first good sample is
// published. Run never returns because of the chip, only with its task's
// interruption. Run it as a task of its own; it may run again after it has
// returned, never twice at once (ErrRunning).
func (d *Dev) Run(t *loop.Task) error {
	if d.running {
		return ErrRunning
	}
	d.running = true
	defer func() { d.running = false }()
	p := i2cdev.Poller{Name: d.name, First: d.cfg.backoff, Max: d.cfg.maxBackoff}
	var (
		fresh      = true // no good sample since the start or an error
		smoothed   Vector
		reported   Vector
		lastReport time.Time
	)
	return p.Run(t, d.cfg.period, func(t *loop.Task) error {
		samples, err := d.poll(t)
		if err != nil {
			return err
		}
		d.stats.Polls++
		for _, s := range samples {
			v, now := s.v, s.at
			if fresh {
				fresh = false
				smoothed, reported, lastReport = v, v, now
				d.publish(Sample{Smoothed: v, Raw: v, Time: now})
				continue
			}
			a := d.cfg.alpha
			smoothed = Vector{
				smoothed.X + a*(v.X-smoothed.X),
				smoothed.Y + a*(v.Y-smoothed.Y),
				smoothed.Z + a*(v.Z-smoothed.Z),
			}
			switch {
			case d.cfg.mode.exceeds(smoothed, reported, d.cfg.threshold):
				reported, lastReport = smoothed, now
				d.publish(Sample{Smoothed: smoothed, Raw: v, Time: now})
			case d.cfg.still > 0 && now.Sub(lastReport) >= d.cfg.still:
				lastReport = now
				d.publish(Sample{Smoothed: smoothed, Raw: v, Time: now, Still: true})
			}
		}
		return nil
	}, func(at time.Time, f drivers.Fault) {
		d.stats.Failures++
		if errors.Is(f.Err, ErrReset) {
			d.stats.Resets++
		}
		d.publish(Sample{Time: at, Fault: f})
		fresh = true // after an error, smoothing starts over
	})
}

// fail wraps a device failure; the task's interruptions pass unchanged.
func (d *Dev) fail(op string, err error) error { return i2cdev.Fail(d.name, op, err) }
