package adxl345_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/adxl345/adxl345test"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

func mustNew(t *testing.T, bus i2c.Bus, opts ...adxl345.Option) *adxl345.Dev {
	t.Helper()
	d, err := adxl345.New(bus, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func initOps(addr uint16, rate, format byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{adxl345.RegDevID}, R: []byte{adxl345.DeviceID}},
		{Addr: addr, W: []byte{adxl345.RegPowerCtl, 0x00}},
		{Addr: addr, W: []byte{adxl345.RegBWRate, rate}},
		{Addr: addr, W: []byte{adxl345.RegDataFormat, format}},
		{Addr: addr, W: []byte{adxl345.RegFIFOCtl, 0x00}},
		{Addr: addr, W: []byte{adxl345.RegPowerCtl, adxl345.PowerMeasure}},
	}
}

// Init is, byte for byte: DEVID read and checked; standby; BW_RATE;
// DATA_FORMAT; FIFO bypass; measure. The first data read waits the turn-on
// time and a sample period (1.1 ms + 80 ms at 12.5 Hz; + 10 ms at 100 Hz)
// and reads the six data registers in one transfer.
func TestInitSequence(t *testing.T) {
	for _, c := range []struct {
		name      string
		opts      []adxl345.Option
		addr      uint16
		rate, fmt byte
		sample    []byte
		want      adxl345.Vector
		wantTimes string
	}{
		{"defaults", nil, 0x53, 0x07, 0x08,
			[]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x01}, adxl345.Vector{Z: 1},
			"[0s 0s 0s 0s 0s 0s 81.1ms]"},
		{"0x1d, 100 Hz, 10-bit ±16 g", []adxl345.Option{adxl345.WithAddress(0x1D), adxl345.WithRate(adxl345.Rate100Hz),
			adxl345.WithRange(adxl345.Range16G), adxl345.WithFullResolution(false)}, 0x1D, 0x0A, 0x03,
			[]byte{0x20, 0x00, 0xE0, 0xFF, 0x08, 0x00}, adxl345.Vector{X: 1, Y: -1, Z: 0.25},
			"[0s 0s 0s 0s 0s 0s 11.1ms]"},
	} {
		w := drivertest.NewWorld()
		pb := &i2ctest.Playback{DontPanic: true, Ops: append(initOps(c.addr, c.rate, c.fmt),
			i2ctest.IO{Addr: c.addr, W: []byte{adxl345.RegDataX0}, R: c.sample})}
		bus := &drivertest.TimedBus{Bus: pb, Now: w.VC.Now}
		d := mustNew(t, bus, c.opts...)
		var v adxl345.Vector
		w.Run(t, func(tk *loop.Task) error {
			var err error
			v, err = d.Read(tk)
			return err
		})
		if err := pb.Close(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v != c.want || fmt.Sprint(bus.Times(w.Since)) != c.wantTimes {
			t.Errorf("%s: read %+v at %s; want %+v at %s", c.name, v, fmt.Sprint(bus.Times(w.Since)), c.want, c.wantTimes)
		}
	}
}

// Another chip at the address is an error naming the device and what it
// read, and the driver goes no further.
func TestWrongDeviceID(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	sim.SetDeviceID(0x00)
	d := mustNew(t, sim)
	var err error
	w.Run(t, func(tk *loop.Task) error {
		_, err = d.Read(tk)
		return nil
	})
	const want = "adxl345 0x53 on adxl345test: check device id: adxl345: wrong device id: register 0x00 reads 0x00, want 0xe5"
	var de *drivers.DeviceError
	if !errors.Is(err, adxl345.ErrDeviceID) || !errors.As(err, &de) || de.Device != "adxl345 0x53 on adxl345test" || err.Error() != want {
		t.Errorf("Read: %v\nwant %s", err, want)
	}
	if n := len(sim.Ops()); n != 1 {
		t.Errorf("%d transactions after a wrong id, want 1", n)
	}
}

// Read through the simulator in every range and resolution: within half a
// count of what the chip sees, saturated at the range.
func TestReadEveryFormat(t *testing.T) {
	in := adxl345.Vector{X: 0.5, Y: -1.25, Z: 3}
	for r := adxl345.Range2G; r <= adxl345.Range16G; r++ {
		for _, full := range []bool{true, false} {
			w := drivertest.NewWorld()
			sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
			sim.SetAccel(in)
			d := mustNew(t, sim, adxl345.WithRange(r), adxl345.WithFullResolution(full))
			var v adxl345.Vector
			w.Run(t, func(tk *loop.Task) error {
				var err error
				v, err = d.Read(tk)
				return err
			})
			f := d.Format()
			step := f.MilliGPerLSB() / 1000
			top := float64(r.G()) - step
			for i, got := range []float64{v.X, v.Y, v.Z} {
				want := min([]float64{in.X, in.Y, in.Z}[i], top)
				if d := got - want; d > step/2 || d < -step/2 {
					t.Errorf("%v full=%v: axis %d reads %v g, want %v", r, full, i, got, want)
				}
			}
			if len(sim.Violations()) != 0 {
				t.Errorf("violations %q", sim.Violations())
			}
		}
	}
}

// collect runs d.Run with the script: at each step's time the simulated
// acceleration changes. It returns the samples published until end.
func collect(t *testing.T, w *drivertest.World, sim *adxl345test.Sensor, d *adxl345.Dev, q *primitives.Queue[adxl345.Sample],
	end time.Duration, script map[time.Duration]func()) []adxl345.Sample {
	t.Helper()
	var got []adxl345.Sample
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("adxl345", d.Run)
		g.Go("script", func(tk *loop.Task) error {
			for at := time.Duration(0); at <= end; at += 10 * ms {
				if f := script[at]; f != nil {
					if err := w.SleepUntil(tk, at); err != nil {
						return err
					}
					f()
				}
			}
			return nil
		})
		if err := w.SleepUntil(tk, end); err != nil {
			return err
		}
		if err := g.Stop(tk); err != nil {
			return err
		}
		for {
			s, err := q.TryGet()
			if err != nil {
				return nil
			}
			got = append(got, s)
		}
	})
	return got
}

func format(w *drivertest.World, samples []adxl345.Sample) string {
	var b strings.Builder
	for _, s := range samples {
		fmt.Fprintf(&b, "%v %.4f %.4f %.4f", w.Since(s.Time), s.Smoothed.X, s.Smoothed.Y, s.Smoothed.Z)
		if s.Still {
			b.WriteString(" still")
		}
		if s.Err != nil {
			fmt.Fprintf(&b, " failures=%d retry=%v %v", s.Failures, s.RetryIn, s.Err)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The threshold filter without smoothing: changes at or below the
// threshold are not reported, above are, measured against the last
// reported value (so small changes add up). Each mode on the same script
// (values quantised to 1/256 g): polls every 100 ms, the acceleration
// changing 50 ms before each poll.
func TestRunThresholdModes(t *testing.T) {
	steps := []adxl345.Vector{
		{X: 0.03, Z: 1},          // 200 ms: 0.031 from the first: below
		{X: 0.03, Y: 0.03, Z: 1}, // 300 ms: distance 0.044, below
		{X: 0.04, Y: 0.04, Z: 1}, // 400 ms: distance 0.055: above; per axis 0.039: below
		{X: 0.04, Y: 0.04, Z: 1.03},
		{X: 0.2, Z: 1},           // 600 ms: a tilt: |a| changes by 0.02 only
		{X: 0.2, Z: 1.6},         // 700 ms: a shock (Z quantised to 410/256)
		{X: 0.2, Z: 422.0 / 256}, // 800 ms: 12 counts, 0.047 g: below
		{X: 0.2, Z: 423.0 / 256}, // 900 ms: 13 counts, 0.051 g: just above
	}
	for _, c := range []struct {
		mode adxl345.ThresholdMode
		want string
	}{
		{adxl345.Distance, `81.1ms 0.0000 0.0000 1.0000
400ms 0.0391 0.0391 1.0000
600ms 0.1992 0.0000 1.0000
700ms 0.1992 0.0000 1.6016
900ms 0.1992 0.0000 1.6523
`},
		{adxl345.PerAxis, `81.1ms 0.0000 0.0000 1.0000
600ms 0.1992 0.0000 1.0000
700ms 0.1992 0.0000 1.6016
900ms 0.1992 0.0000 1.6523
`},
		{adxl345.Magnitude, `81.1ms 0.0000 0.0000 1.0000
700ms 0.1992 0.0000 1.6016
900ms 0.1992 0.0000 1.6523
`},
	} {
		w := drivertest.NewWorld()
		sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
		d := mustNew(t, sim, adxl345.WithSmoothing(1), adxl345.WithThreshold(0.05, c.mode), adxl345.WithQueueSize(64))
		q := d.Events()
		script := map[time.Duration]func(){}
		for i, v := range steps {
			script[time.Duration(i+1)*100*ms+50*ms] = func() { sim.SetAccel(v) }
		}
		got := format(w, collect(t, w, sim, d, q, 950*ms, script))
		if got != c.want {
			t.Errorf("%v:\n%swant:\n%s", c.mode, got, c.want)
		}
		if last := d.Latest().Value(); w.Since(last.Time) != 900*ms {
			t.Errorf("%v: Latest() = %+v", c.mode, last)
		}
	}
}

// With smoothing (alpha 0.5) a step from 1 g to 2 g is followed by the
// moving average: 1.5, 1.75, 1.875 … Each report needs the average to have
// moved more than the threshold (0.1 g) from the last report, so the tail
// of the approach is reported once it adds up (1.984 at 700 ms). Raw
// carries the reading itself.
func TestRunSmoothing(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	d := mustNew(t, sim, adxl345.WithRange(adxl345.Range4G), adxl345.WithSmoothing(0.5),
		adxl345.WithThreshold(0.1, adxl345.Distance), adxl345.WithQueueSize(64))
	q := d.Events()
	samples := collect(t, w, sim, d, q, time.Second, map[time.Duration]func(){
		150 * ms: func() { sim.SetAccel(adxl345.Vector{Z: 2}) },
	})
	const want = `81.1ms 0.0000 0.0000 1.0000
200ms 0.0000 0.0000 1.5000
300ms 0.0000 0.0000 1.7500
400ms 0.0000 0.0000 1.8750
700ms 0.0000 0.0000 1.9844
`
	if got := format(w, samples); got != want {
		t.Errorf("published:\n%swant:\n%s", got, want)
	}
	for _, s := range samples[1:] {
		if s.Raw != (adxl345.Vector{Z: 2}) {
			t.Errorf("raw %+v at %v, want 2 g", s.Raw, w.Since(s.Time))
		}
	}
}

// With WithStillTimeout, a still chip is reported every timeout (the
// seed's apoll message every 2 s), at the first poll past it.
func TestRunStillTimeout(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	d := mustNew(t, sim, adxl345.WithStillTimeout(2*time.Second), adxl345.WithQueueSize(64))
	q := d.Events()
	got := format(w, collect(t, w, sim, d, q, 5*time.Second, map[time.Duration]func(){
		3*time.Second + 50*ms: func() { sim.SetAccel(adxl345.Vector{X: 1}) },
	}))
	// At 3.05 s the chip turns over: smoothing (0.25) reports the average on
	// its way, and the still timer restarts with each report.
	const want = `81.1ms 0.0000 0.0000 1.0000
2.1s 0.0000 0.0000 1.0000 still
3.1s 0.2500 0.0000 0.7500
3.2s 0.4375 0.0000 0.5625
3.3s 0.5781 0.0000 0.4219
3.4s 0.6836 0.0000 0.3164
3.5s 0.7627 0.0000 0.2373
3.6s 0.8220 0.0000 0.1780
3.7s 0.8665 0.0000 0.1335
3.9s 0.9249 0.0000 0.0751
4.2s 0.9683 0.0000 0.0317
`
	if got != want {
		t.Errorf("published:\n%swant:\n%s", got, want)
	}
}

// Polls run at a fixed rate from the first poll's start: data reads at
// exactly 100 ms steps after the first (which waited for the first sample).
func TestRunPollTiming(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	d := mustNew(t, sim)
	collect(t, w, sim, d, d.Events(), 550*ms, nil)
	var reads []time.Duration
	for _, o := range sim.Ops() {
		if len(o.W) == 1 && o.W[0] == adxl345.RegDataX0 {
			reads = append(reads, w.Since(o.At))
		}
	}
	if got := fmt.Sprint(reads); got != "[81.1ms 100ms 200ms 300ms 400ms 500ms]" {
		t.Errorf("data reads at %s", got)
	}
}

// A chip that does not answer is published as an error state and retried
// after 1, 2, 4, 4 s; once it answers, the driver configures it again and
// publishes the first good sample. A power cycle mid-run (the chip back in
// standby, defaults) is caught by the NACK that comes with it: the retry
// initialises the chip again.
func TestRunBackoffAndRecovery(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	sim.SetPresent(false)
	d := mustNew(t, sim, adxl345.WithBackoff(time.Second, 4*time.Second), adxl345.WithQueueSize(64))
	q := d.Events()
	got := format(w, collect(t, w, sim, d, q, 20*time.Second, map[time.Duration]func(){
		9 * time.Second: func() { sim.SetPresent(true) },
		15*time.Second + 50*ms: func() {
			sim.PowerCycle()
			sim.FailNext(1)
			sim.SetAccel(adxl345.Vector{Y: 1})
		},
	}))
	const nack = "adxl345 0x53 on adxl345test: read DEVID: adxl345test: address not acknowledged (remote I/O error)"
	const nackData = "adxl345 0x53 on adxl345test: read DATAX0–DATAZ1: adxl345test: address not acknowledged (remote I/O error)"
	want := `0s 0.0000 0.0000 0.0000 failures=1 retry=1s ` + nack + `
1s 0.0000 0.0000 0.0000 failures=2 retry=2s ` + nack + `
3s 0.0000 0.0000 0.0000 failures=3 retry=4s ` + nack + `
7s 0.0000 0.0000 0.0000 failures=4 retry=4s ` + nack + `
11.0811s 0.0000 0.0000 1.0000
15.1s 0.0000 0.0000 0.0000 failures=1 retry=1s ` + nackData + `
16.1811s 0.0000 1.0000 0.0000
`
	if got != want {
		t.Errorf("published:\n%swant:\n%s", got, want)
	}
	inits := 0
	for _, o := range sim.Ops() {
		if o.Err == nil && len(o.W) == 2 && o.W[0] == adxl345.RegPowerCtl && o.W[1] == adxl345.PowerMeasure {
			inits++
		}
	}
	if inits != 2 || len(sim.Violations()) != 0 {
		t.Errorf("%d initialisations, want 2; violations %q", inits, sim.Violations())
	}
}

// Read works on demand under WaitFor, also while Run polls.
func TestReadUnderWaitForWhileRunning(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	sim.SetAccel(adxl345.Vector{X: -0.5, Y: 0.25, Z: 0.75})
	d := mustNew(t, sim)
	var v adxl345.Vector
	var errs [2]error
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("adxl345", d.Run)
		if err := tk.Yield(); err != nil { // Run starts, and holds the chip while it settles
			return err
		}
		_, errs[0] = loop.WaitForValue(tk, 50*ms, d.Read)
		v, errs[1] = loop.WaitForValue(tk, time.Second, d.Read)
		return g.Stop(tk)
	})
	if !errors.Is(errs[0], loop.ErrTimeout) || errs[1] != nil || v != (adxl345.Vector{X: -0.5, Y: 0.25, Z: 0.75}) {
		t.Errorf("Reads: %v; %+v, %v", errs[0], v, errs[1])
	}
}

// Nothing the driver does on the loop runs long (hog threshold 20 ms) over
// a thousand virtual seconds of polls and retries. The simulated chip
// charges each inline transfer's bus time to the virtual clock and the
// loop counts hogs by virtual time: the same verdict on every run.
func TestNoHogs(t *testing.T) {
	drivertest.NoHogs(t, 9000, func(offload bool) (loop.Stats, int) { return hogScenario(t, 100, offload, 0) })
}

// Reading the FIFO once a second is a transfer per sample, each in a turn
// of its own: about 14 transfers a poll at 12.5 Hz, over five virtual
// minutes, and no hog.
func TestNoHogsFIFO(t *testing.T) {
	drivertest.NoHogs(t, 3000, func(offload bool) (loop.Stats, int) {
		return hogScenario(t, 30, offload, 0, adxl345.WithFIFO(), adxl345.WithPeriod(time.Second))
	})
}

// At 2 kHz a poll's transfer (84 bit times) holds the loop 42 ms: the
// check reports the driver by name, every run; offloaded, no one.
func TestSlowBusHogs(t *testing.T) {
	stats, _ := hogScenario(t, 10, false, 2*physic.KiloHertz)
	if stats.Hogs == 0 || stats.MaxHogTask != "adxl345" || stats.MaxHog != 42*ms {
		t.Errorf("inline on a 2 kHz bus: %d hogs, longest %v in %q; want hogs of 42ms by adxl345", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
	}
	if stats, _ := hogScenario(t, 10, true, 2*physic.KiloHertz); stats.Hogs != 0 {
		t.Errorf("offloaded on a 2 kHz bus: %d hogs, longest %v in %q", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
	}
}

// hogScenario runs the driver for rounds of ten virtual seconds with
// injected faults, its bus time charged to the virtual clock at speed (0:
// the simulation's default, 100 kHz).
func hogScenario(t *testing.T, rounds int, offload bool, speed physic.Frequency, extra ...adxl345.Option) (stats loop.Stats, ops int) {
	w := drivertest.NewWorld(loop.WithHogThreshold(20 * ms))
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	w.ChargeBusTime(sim)
	if speed > 0 {
		if err := sim.SetSpeed(speed); err != nil {
			t.Fatal(err)
		}
	}
	sim.SetSignal(func(at time.Time) adxl345.Vector {
		s := float64(at.UnixMilli()%2000) / 1000 // a 2 s saw-tooth on X
		return adxl345.Vector{X: s, Z: 1}
	})
	opts := append([]adxl345.Option{adxl345.WithStillTimeout(time.Second)}, extra...)
	if offload {
		opts = append(opts, adxl345.WithOffload())
	}
	d := mustNew(t, sim, opts...)
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("adxl345", d.Run)
		for i := range rounds {
			if i%10 == 5 {
				sim.FailNext(2)
			}
			if err := tk.Sleep(10 * time.Second); err != nil {
				return err
			}
		}
		stats = tk.Loop().Stats()
		return g.Stop(tk)
	})
	return stats, int(sim.Transactions())
}

func TestNewRejectsBadOptions(t *testing.T) {
	sim := adxl345test.New(adxl345.AddressAltLow, nil)
	for _, c := range []struct {
		bus  i2c.Bus
		opts []adxl345.Option
		want string
	}{
		{nil, nil, "adxl345: New: nil bus"},
		{sim, []adxl345.Option{adxl345.WithAddress(0x40)}, "adxl345: WithAddress(0x40): the ADXL345 answers at 0x53 (ALT ADDRESS low) or 0x1d (high)"},
		{sim, []adxl345.Option{adxl345.WithRate(16)}, "adxl345: WithRate(16): no such rate code (0–15)"},
		{sim, []adxl345.Option{adxl345.WithRange(4)}, "adxl345: WithRange(4): no such range (Range2G … Range16G)"},
		{sim, []adxl345.Option{adxl345.WithPeriod(0)}, "adxl345: WithPeriod(0s): must be positive"},
		{sim, []adxl345.Option{adxl345.WithThreshold(-0.1, adxl345.Distance)}, "adxl345: WithThreshold(-0.1, distance): the threshold must be a finite number of g, ≥ 0"},
		{sim, []adxl345.Option{adxl345.WithThreshold(0.1, 7)}, "adxl345: WithThreshold(0.1, ThresholdMode(7)): no such mode"},
		{sim, []adxl345.Option{adxl345.WithSmoothing(0)}, "adxl345: WithSmoothing(0): alpha must be in (0, 1]"},
		{sim, []adxl345.Option{adxl345.WithStillTimeout(-time.Second)}, "adxl345: WithStillTimeout(-1s): must not be negative"},
		{sim, []adxl345.Option{adxl345.WithBackoff(0, time.Second)}, "adxl345: WithBackoff(0s, 1s): want 0 < first ≤ max"},
		{sim, []adxl345.Option{adxl345.WithQueueSize(0), adxl345.WithSmoothing(1.5)}, "adxl345: WithQueueSize(0): must be at least 1\nadxl345: WithSmoothing(1.5): alpha must be in (0, 1]"},
		{nil, []adxl345.Option{adxl345.WithRate(16)}, "adxl345: New: nil bus\nadxl345: WithRate(16): no such rate code (0–15)"},
	} {
		d, err := adxl345.New(c.bus, c.opts...)
		if d != nil || err == nil || err.Error() != c.want {
			t.Errorf("New: %v, %v; want %q", d, err, c.want)
		}
	}
	if d := mustNew(t, sim, adxl345.WithAddress(0x1D)); d.String() != "adxl345 0x1d on adxl345test" {
		t.Errorf("String() = %q", d)
	}
}

// Whatever the bus answers, Read returns a vector within the range or a
// *DeviceError, and never panics.
func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0xE5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(3))
	f.Add([]byte{0, 0x00}, uint8(0))
	f.Add([]byte{0, 0xE5, 0, 0, 1}, uint8(1))
	f.Add([]byte{0, 0xE5, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x00, 0x80, 0x12, 0x34}, uint8(6))
	f.Fuzz(func(t *testing.T, data []byte, settings uint8) {
		w := drivertest.NewWorld()
		d := mustNew(t, &drivertest.ScriptBus{Data: data}, adxl345.WithRange(adxl345.Range(settings&3)),
			adxl345.WithFullResolution(settings&4 != 0), adxl345.WithRate(adxl345.Rate3200Hz))
		var v adxl345.Vector
		var err error
		w.Run(t, func(tk *loop.Task) error {
			v, err = d.Read(tk)
			return nil
		})
		var de *drivers.DeviceError
		fs := float64(d.Format().Range.G())
		switch {
		case err != nil && !errors.As(err, &de):
			t.Fatalf("Read: %v is not a *DeviceError", err)
		case err == nil:
			for _, g := range []float64{v.X, v.Y, v.Z} {
				if g < -fs || g >= fs {
					t.Fatalf("Read = %+v: outside ±%v g", v, fs)
				}
			}
		}
	})
}

// A bus that panics (a playback does on an unexpected transaction) gives a
// *DeviceError wrapping a *loop.PanicError, and Run publishes it as an
// error state and goes on.
func TestBusPanicIsAnError(t *testing.T) {
	w := drivertest.NewWorld()
	d := mustNew(t, &i2ctest.Playback{}, adxl345.WithQueueSize(64))
	q := d.Events()
	var s adxl345.Sample
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("adxl345", d.Run)
		var err error
		if s, err = q.Get(tk); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	var de *drivers.DeviceError
	var pe *loop.PanicError
	if !errors.As(s.Err, &de) || de.Op != "read DEVID" || !errors.As(s.Err, &pe) || pe.Task != "adxl345" || s.Failures != 1 {
		t.Errorf("published %+v", s)
	}
}

// A chip that power-cycles without a bus error comes back in standby with
// its registers reset, and its data registers read zero from then on. Run
// sees the all-zero sample, finds POWER_CTL no longer measuring, publishes
// the reset as an error state and initialises the chip again on the retry.
func TestRunNoticesSilentPowerCycle(t *testing.T) {
	want := `81.1ms 0.0000 0.0000 1.0000
2.1s 0.0000 0.0000 0.0000 failures=1 retry=1s adxl345 0x53 on adxl345test: check POWER_CTL after an all-zero sample: adxl345: chip reset (it is in standby with its power-up settings)
3.1811s 0.0000 1.0000 0.0000
`
	silentPowerCycle(t, want, adxl345.FIFOBypass)
}

// With WithFIFO a chip that power-cycled silently leaves its FIFO
// bypassed and empty: a poll that finds no sample checks POWER_CTL,
// publishes the reset and initialises the chip again, FIFO and all.
func TestFIFONoticesSilentPowerCycle(t *testing.T) {
	want := `81.1ms 0.0000 0.0000 1.0000
3s 0.0000 0.0000 0.0000 failures=1 retry=1s adxl345 0x53 on adxl345test: check POWER_CTL after an all-zero sample: adxl345: chip reset (it is in standby with its power-up settings)
4.0811s 0.0000 1.0000 0.0000
`
	silentPowerCycle(t, want, adxl345.FIFOStream, adxl345.WithFIFO(), adxl345.WithPeriod(time.Second))
}

// silentPowerCycle power-cycles the chip at 2.05 s, under Run with opts,
// and checks what Run published until 5 s and that the chip measures
// again with FIFO_CTL fifoCtl.
func silentPowerCycle(t *testing.T, want string, fifoCtl byte, opts ...adxl345.Option) {
	t.Helper()
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	d := mustNew(t, sim, append([]adxl345.Option{adxl345.WithSmoothing(1), adxl345.WithQueueSize(64)}, opts...)...)
	got := format(w, collect(t, w, sim, d, d.Events(), 5*time.Second, map[time.Duration]func(){
		2*time.Second + 50*ms: func() {
			sim.PowerCycle()
			sim.SetAccel(adxl345.Vector{Y: 1})
		},
	}))
	if got != want {
		t.Errorf("published:\n%swant:\n%s", got, want)
	}
	ctl, fifo := sim.Register(adxl345.RegPowerCtl), sim.Register(adxl345.RegFIFOCtl)
	if ctl&adxl345.PowerMeasure == 0 || fifo != fifoCtl || len(sim.Violations()) != 0 {
		t.Errorf("chip left with POWER_CTL %#02x, FIFO_CTL %#02x; violations %q", ctl, fifo, sim.Violations())
	}
	if st := d.Stats(); st.Resets != 1 || st.Failures != 1 || st.Published != 3 {
		t.Errorf("stats %+v, want 1 reset, 1 failure, 3 published", st)
	}
}

// An all-zero sample from a chip that is still measuring — free fall — is
// a reading like any other; only the extra POWER_CTL read shows it was
// checked.
func TestReadAllZeroWhileMeasuring(t *testing.T) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	sim.SetAccel(adxl345.Vector{})
	d := mustNew(t, sim)
	var v adxl345.Vector
	var err error
	w.Run(t, func(tk *loop.Task) error {
		v, err = d.Read(tk)
		return nil
	})
	ops := sim.Ops()
	last := ops[len(ops)-1]
	if err != nil || v != (adxl345.Vector{}) || len(last.W) != 1 || last.W[0] != adxl345.RegPowerCtl {
		t.Errorf("Read = %+v, %v; last transaction %v", v, err, last)
	}
}

// fifoRun runs d.Run for 5 s on a chip whose X is 0.5 g from 2.3 s to
// 2.5 s only — a shake between two of the 1 s polls — with a Read at
// 2.6 s, and returns what Run published and the transactions.
func fifoRun(t *testing.T, opts ...adxl345.Option) ([]adxl345.Sample, []adxl345test.Op, adxl345.Stats) {
	w := drivertest.NewWorld()
	sim := adxl345test.New(adxl345.AddressAltLow, w.VC.Now)
	sim.SetSignal(func(at time.Time) adxl345.Vector {
		if d := w.Since(at); d >= 2300*ms && d < 2500*ms {
			return adxl345.Vector{X: 0.5, Z: 1}
		}
		return adxl345.Vector{Z: 1}
	})
	d := mustNew(t, sim, append([]adxl345.Option{adxl345.WithPeriod(time.Second), adxl345.WithSmoothing(1), adxl345.WithQueueSize(64)}, opts...)...)
	var got []adxl345.Sample
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("adxl345", d.Run)
		if err := w.SleepUntil(tk, 2600*ms); err != nil {
			return err
		}
		if v, err := d.Read(tk); err != nil || v != (adxl345.Vector{Z: 1}) {
			return fmt.Errorf("Read at 2.6s: %+v, %v; want the newest sample, 0 0 1", v, err)
		}
		if err := w.SleepUntil(tk, 5*time.Second); err != nil {
			return err
		}
		if err := g.Stop(tk); err != nil {
			return err
		}
		for !d.Events().Empty() {
			s, _ := d.Events().TryGet()
			got = append(got, s)
		}
		return nil
	})
	return got, sim.Ops(), d.Stats()
}

// With WithFIFO a poll a second reads every sample taken since the last:
// a 200 ms shake between two polls is published, stamped with its
// samples' own times, even though a Read took them from the chip first.
// Without it, the same polls see only the sample of their instant and
// miss the shake. The chip is read once a second: a FIFO_STATUS and a
// transfer per sample.
func TestFIFOSeesWhatHappensBetweenPolls(t *testing.T) {
	got, ops, st := fifoRun(t, adxl345.WithFIFO())
	w := drivertest.NewWorld()
	// The samples are stamped back from the read that took them (the Read
	// at 2.6 s), a sample period apart: the shake's first sample, taken at
	// 2.3211 s, reads 2.36 s — within a sample period, as documented.
	want := `81.1ms 0.0000 0.0000 1.0000
2.36s 0.5000 0.0000 1.0000
2.6s 0.0000 0.0000 1.0000
`
	if s := format(w, got); s != want {
		t.Errorf("published with the FIFO:\n%swant:\n%s", s, want)
	}
	var statusReads []time.Duration
	for _, op := range ops {
		if len(op.W) == 1 && op.W[0] == adxl345.RegFIFOStatus {
			statusReads = append(statusReads, w.Since(op.At))
		}
	}
	if want := "[81.1ms 1s 2s 2.6s 3s 4s]"; fmt.Sprint(statusReads) != want {
		t.Errorf("FIFO read at %v, want %s (the polls, and the Read at 2.6s)", statusReads, want)
	}
	if st.Samples != 49 || st.Overruns != 0 || st.Failures != 0 {
		t.Errorf("stats %+v: want 49 samples (12.5 Hz from 81.1 ms to 3.92 s), no overrun or failure", st)
	}

	got, _, _ = fifoRun(t)
	if s := format(w, got); s != "81.1ms 0.0000 0.0000 1.0000\n" {
		t.Errorf("published without the FIFO:\n%swant the first sample only", s)
	}
}
