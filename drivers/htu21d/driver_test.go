package htu21d_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

func op(w []byte, r ...byte) i2ctest.IO {
	io := i2ctest.IO{Addr: htu21d.Address, W: w}
	if len(r) > 0 {
		io.R = r
	}
	return io
}

func cmd(b ...byte) []byte { return b }

func mustNew(t *testing.T, bus i2c.Bus, opts ...htu21d.Option) *htu21d.Dev {
	t.Helper()
	d, err := htu21d.New(bus, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// playback runs body on a driver made with opts over a playback of ops on
// a virtual clock, fails the test unless every op was played, and returns
// the virtual times of the transactions.
func playback(t *testing.T, ops []i2ctest.IO, opts []htu21d.Option, body func(*htu21d.Dev, *loop.Task) error) (*drivertest.World, []time.Duration) {
	t.Helper()
	w := drivertest.NewWorld()
	pb := &i2ctest.Playback{DontPanic: true, Ops: ops}
	bus := &drivertest.TimedBus{Bus: pb, Now: w.VC.Now}
	d := mustNew(t, bus, opts...)
	w.Run(t, func(tk *loop.Task) error { return body(d, tk) })
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	return w, bus.Times(w.Since)
}

func equalDurations(a, b []time.Duration) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// The datasheet's examples through the whole driver path, byte for byte:
// soft reset, user register read, then each no-hold trigger, the
// measuring time awaited in virtual time (50 ms for 14-bit temperature,
// 16 ms for 12-bit humidity), the three bytes read and converted.
func TestReadDatasheetExamples(t *testing.T) {
	var r htu21d.Reading
	w, times := playback(t, []i2ctest.IO{
		op(cmd(htu21d.SoftReset)),
		op(cmd(htu21d.ReadUserRegister), 0x02),
		op(cmd(htu21d.TriggerTemperatureNoHold)),
		op(nil, 0x68, 0x3A, 0x7C),
		op(cmd(htu21d.TriggerHumidityNoHold)),
		op(nil, 0x4E, 0x85, 0x6B),
	}, nil, func(d *htu21d.Dev, tk *loop.Task) error {
		var err error
		r, err = d.Read(tk)
		return err
	})
	if want := []time.Duration{0, 15 * ms, 15 * ms, 65 * ms, 65 * ms, 81 * ms}; !equalDurations(times, want) {
		t.Errorf("transactions at %v, want %v", times, want)
	}
	if !near(r.Celsius, 24.69, 0.005) || !near(r.Humidity, 32.34, 0.005) || r.RawTemperature != 0x683A ||
		r.RawHumidity != 0x4E85 || w.Since(r.Time) != 81*ms || r.Err != nil || r.Failures != 0 {
		t.Errorf("reading %+v; want 24.69 °C, 32.34 %%RH at 81ms", r)
	}
}

// A corrupted CRC is an error naming the device, the step and the bytes;
// the next reading starts with a soft reset.
func TestReadCorruptCRC(t *testing.T) {
	var err1, err2 error
	playback(t, []i2ctest.IO{
		op(cmd(htu21d.SoftReset)),
		op(cmd(htu21d.ReadUserRegister), 0x02),
		op(cmd(htu21d.TriggerTemperatureNoHold)),
		op(nil, 0x68, 0x3A, 0x7D), // one bit of the CRC flipped
		// the second Read initialises again
		op(cmd(htu21d.SoftReset)),
		op(cmd(htu21d.ReadUserRegister), 0x02),
		op(cmd(htu21d.TriggerTemperatureNoHold)),
		op(nil, 0x68, 0x3A, 0x7C),
		op(cmd(htu21d.TriggerHumidityNoHold)),
		op(nil, 0x4E, 0x85, 0x6B),
	}, nil, func(d *htu21d.Dev, tk *loop.Task) error {
		_, err1 = d.Read(tk)
		_, err2 = d.Read(tk)
		return nil
	})
	const want = "htu21d 0x40 on playback: temperature: htu21d: CRC mismatch: reading 68 3a carries CRC 0x7d, computed 0x7c"
	var de *drivers.DeviceError
	if !errors.Is(err1, htu21d.ErrCRC) || !errors.As(err1, &de) || de.Device != "htu21d 0x40 on playback" || err1.Error() != want {
		t.Errorf("first Read: %v\nwant %s", err1, want)
	}
	if err2 != nil {
		t.Errorf("second Read: %v", err2)
	}
}

// A soft reset is the command 0xFE, then 15 ms of silence; the driver then
// reads the user register and writes the chosen resolution back with the
// other bits as read — here reserved bits the chip happens to set.
func TestSoftResetTransactions(t *testing.T) {
	_, times := playback(t, []i2ctest.IO{
		op(cmd(htu21d.SoftReset)),
		op(cmd(htu21d.ReadUserRegister), 0x3A),
		op(cmd(htu21d.WriteUserRegister, 0x3B)),
	}, []htu21d.Option{htu21d.WithMeasurementResolution(htu21d.RH8T12)}, (*htu21d.Dev).SoftReset)
	if want := []time.Duration{0, 15 * ms, 15 * ms}; !equalDurations(times, want) {
		t.Errorf("transactions at %v, want %v", times, want)
	}
}

// The datasheet's resolution example: read 0x02, write 0x03 (RH 8 bit,
// T 12 bit); the measuring times follow: 13 ms and 3 ms.
func TestSetResolutionTransactions(t *testing.T) {
	_, times := playback(t, []i2ctest.IO{
		op(cmd(htu21d.ReadUserRegister), 0x02),
		op(cmd(htu21d.WriteUserRegister, 0x03)),
		op(cmd(htu21d.SoftReset)),
		op(cmd(htu21d.ReadUserRegister), 0x02), // the reset restored the default
		op(cmd(htu21d.WriteUserRegister, 0x03)),
		op(cmd(htu21d.TriggerTemperatureNoHold)),
		op(nil, 0x68, 0x30, htu21d.CRC8([]byte{0x68, 0x30})),
		op(cmd(htu21d.TriggerHumidityNoHold)),
		op(nil, 0x4E, 0x02, htu21d.CRC8([]byte{0x4E, 0x02})),
		// Already at the resolution: read, no write.
		op(cmd(htu21d.ReadUserRegister), 0x03),
	}, nil, func(d *htu21d.Dev, tk *loop.Task) error {
		if err := d.SetResolution(tk, htu21d.RH8T12); err != nil {
			return err
		}
		if _, err := d.Read(tk); err != nil {
			return err
		}
		return d.SetResolution(tk, htu21d.RH8T12)
	})
	want := []time.Duration{0, 0, 0, 15 * ms, 15 * ms, 15 * ms, 28 * ms, 28 * ms, 31 * ms, 31 * ms}
	if !equalDurations(times, want) {
		t.Errorf("transactions at %v, want %v", times, want)
	}
}

// Against the simulator, every resolution: the read comes exactly the
// datasheet's measuring time after the trigger (the simulated chip NACKs
// any earlier), and the values come back quantised.
func TestReadEveryResolution(t *testing.T) {
	for _, res := range []htu21d.Resolution{htu21d.RH12T14, htu21d.RH8T12, htu21d.RH10T13, htu21d.RH11T11} {
		w := drivertest.NewWorld()
		sim := htu21dtest.New(w.VC.Now)
		sim.Set(21.5, 40)
		d := mustNew(t, sim, htu21d.WithMeasurementResolution(res))
		var r htu21d.Reading
		w.Run(t, func(tk *loop.Task) error {
			var err error
			r, err = d.Read(tk)
			return err
		})
		ops := sim.Ops()
		rhTime, tTime := res.MeasuringTime()
		rhBits, tBits := res.Bits()
		n := len(ops)
		if n < 4 || ops[n-3].At.Sub(ops[n-4].At) != tTime || ops[n-1].At.Sub(ops[n-2].At) != rhTime {
			t.Errorf("%v: transactions %v", res, ops)
		}
		// The quantisation error is at most one step of the resolution.
		if !near(r.Celsius, 21.5, 175.72/float64(int(1)<<tBits)) || !near(r.Humidity, 40, 125/float64(int(1)<<rhBits)) {
			t.Errorf("%v: %.3f °C, %.3f %%RH; want 21.5, 40", res, r.Celsius, r.Humidity)
		}
		if htu21d.ResolutionOf(sim.UserRegister()) != res || len(sim.Violations()) != 0 {
			t.Errorf("%v: register %#02x, violations %q", res, sim.UserRegister(), sim.Violations())
		}
	}
}

// Run reads at once, then every period from the previous start: readings
// complete 81 ms after the first start (reset and register included) and
// 66 ms after each later one, at exact virtual times, to the event and
// the queue.
func TestRunPeriodic(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim, htu21d.WithPeriod(10*time.Second), htu21d.WithQueueSize(64))
	q := d.Events()
	var got []string
	var latest htu21d.Reading
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("htu21d", d.Run)
		for i := range 3 {
			sim.Set(20+float64(i), 50)
			r, err := q.Get(tk)
			if err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%v %.1f°C %.1f%% err=%v", w.Since(r.Time), r.Celsius, r.Humidity, r.Err))
		}
		latest = d.Latest().Value()
		return g.Stop(tk)
	})
	want := []string{
		"81ms 20.0°C 50.0% err=<nil>",
		"10.066s 21.0°C 50.0% err=<nil>",
		"20.066s 22.0°C 50.0% err=<nil>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("readings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w.Since(latest.Time) != 20066*ms || !near(latest.Celsius, 22, 0.01) {
		t.Errorf("Latest() = %+v", latest)
	}
	var triggers []time.Duration
	for _, o := range sim.Ops() {
		if o.W != nil && o.W[0] == htu21d.TriggerTemperatureNoHold {
			triggers = append(triggers, w.Since(o.At))
		}
	}
	if want := []time.Duration{15 * ms, 10 * time.Second, 20 * time.Second}; !equalDurations(triggers, want) {
		t.Errorf("temperature triggers at %v, want %v", triggers, want)
	}
}

// A sensor that NACKs is published as an error state and retried after
// 1, 2, 4, 4 … s (back-off 1 s doubling, capped at 4 s); when it answers
// again, readings resume at the period from the good reading's start.
func TestRunBackoffAndRecovery(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	sim.SetPresent(false)
	d := mustNew(t, sim, htu21d.WithPeriod(10*time.Second), htu21d.WithBackoff(time.Second, 4*time.Second), htu21d.WithQueueSize(64))
	q := d.Events()
	var got []string
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("htu21d", d.Run)
		g.Go("plug", func(tk *loop.Task) error {
			if err := tk.Sleep(13 * time.Second); err != nil {
				return err
			}
			sim.SetPresent(true)
			return nil
		})
		for range 8 {
			r, err := q.Get(tk)
			if err != nil {
				return err
			}
			s := fmt.Sprintf("%v failures=%d retry=%v", w.Since(r.Time), r.Failures, r.RetryIn)
			var de *drivers.DeviceError
			if errors.As(r.Err, &de) && errors.Is(r.Err, htu21dtest.ErrNACK) {
				s += " " + de.Op
			} else if r.Err != nil {
				s += " unexpected " + r.Err.Error()
			}
			got = append(got, s)
		}
		return g.Stop(tk)
	})
	want := []string{
		"0s failures=1 retry=1s soft reset",
		"1s failures=2 retry=2s soft reset",
		"3s failures=3 retry=4s soft reset",
		"7s failures=4 retry=4s soft reset",
		"11s failures=5 retry=4s soft reset",
		"15.081s failures=0 retry=0s",
		"25.066s failures=0 retry=0s",
		"35.066s failures=0 retry=0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("published:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A CRC error in the middle of a run is an error state too; the retry
// starts with a soft reset, and the back-off starts over after recovery.
func TestRunCRCErrorThenRecovery(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim, htu21d.WithQueueSize(64))
	q := d.Events()
	var got []string
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("htu21d", d.Run)
		for i := range 5 {
			if i == 1 || i == 3 {
				sim.CorruptNext(htu21dtest.FlipCRC(0))
			}
			r, err := q.Get(tk)
			if err != nil {
				return err
			}
			s := fmt.Sprintf("%v failures=%d", w.Since(r.Time), r.Failures)
			if r.Err != nil {
				s += " " + r.Err.Error()
			}
			got = append(got, s)
		}
		return g.Stop(tk)
	})
	want := []string{
		"81ms failures=0",
		"10.05s failures=1 htu21d 0x40 on htu21dtest: temperature: htu21d: CRC mismatch: reading 68 ac carries CRC 0xe2, computed 0xe3",
		"11.131s failures=0", // retried at 11.05 s: reset, register, two measurements
		"21.1s failures=1 htu21d 0x40 on htu21dtest: temperature: htu21d: CRC mismatch: reading 68 ac carries CRC 0xe2, computed 0xe3",
		"22.181s failures=0", // the first back-off again: 1 s
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("published:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	resets := 0
	for _, o := range sim.Ops() {
		if o.W != nil && o.W[0] == htu21d.SoftReset {
			resets++
		}
	}
	if resets != 3 {
		t.Errorf("%d soft resets, want 3 (start and after each error)", resets)
	}
}

// Read works under WaitFor. One interrupted during a conversion returns
// ErrTimeout and leaves the sensor converting; the next Read waits for the
// conversion to end instead of talking to a chip that would NACK, and
// needs no new reset.
func TestReadUnderWaitFor(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim)
	var errs []error
	var last htu21d.Reading
	w.Run(t, func(tk *loop.Task) error {
		_, err := loop.WaitForValue(tk, time.Second, d.Read)
		errs = append(errs, err)
		_, err = loop.WaitForValue(tk, 30*ms, d.Read) // 81 ms: in the temperature conversion
		errs = append(errs, err)
		last, err = loop.WaitForValue(tk, time.Second, d.Read)
		errs = append(errs, err)
		return nil
	})
	if errs[0] != nil || !errors.Is(errs[1], loop.ErrTimeout) || errs[2] != nil {
		t.Fatalf("Read errors %v; want nil, ErrTimeout, nil", errs)
	}
	var got []string
	for _, o := range sim.Ops() {
		got = append(got, fmt.Sprintf("%v %v", w.Since(o.At), o))
	}
	want := []string{
		"0s W[fe]", "15ms W[e7] R[02]",
		"15ms W[f3]", "65ms W[] R[68 ac e3]", "65ms W[f5]", "81ms W[] R[72 b2 3f]",
		"81ms W[f3]", // interrupted at 111 ms
		"131ms W[f3]", "181ms W[] R[68 ac e3]", "181ms W[f5]", "197ms W[] R[72 b2 3f]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w.Since(last.Time) != 197*ms || len(sim.Violations()) != 0 {
		t.Errorf("last reading %+v, violations %q", last, sim.Violations())
	}
}

// An on-demand Read while Run measures waits for Run's measurement to end
// (the device lock): no transaction hits the chip mid-conversion.
func TestReadWhileRunning(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim)
	var r htu21d.Reading
	var readErr error
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("htu21d", d.Run)
		if err := tk.Sleep(10*time.Second + 20*ms); err != nil { // in Run's second reading
			return err
		}
		r, readErr = d.Read(tk)
		return g.Stop(tk)
	})
	if readErr != nil || w.Since(r.Time) != 10*time.Second+132*ms {
		t.Errorf("Read = %+v, %v; want a reading at 10.132s", r, readErr)
	}
	for _, o := range sim.Ops() {
		if o.Err != nil {
			t.Errorf("failed transaction %v at %v", o, w.Since(o.At))
		}
	}
}

// Nothing the driver does on the loop runs long: a thousand virtual
// seconds of readings, errors and retries, and the hog detector (threshold
// 20 ms) never fires. A driver that slept through a conversion on the loop
// would stall it for 50 ms at every reading. The simulated chip charges
// each inline transfer's bus time to the virtual clock, and the loop counts
// hogs by virtual time, so the verdict is the same on every run.
func TestNoHogs(t *testing.T) {
	drivertest.NoHogs(t, 3000, func(offload bool) (loop.Stats, int) { return hogScenario(t, 100, offload, 0) })
}

// The check sees a bus too slow to use inline: at 1 kHz a transfer holds
// the loop for 11 to 45 ms, and the driver is reported — by name, every
// run. Offloaded, the same bus holds no one.
func TestSlowBusHogs(t *testing.T) {
	stats, _ := hogScenario(t, 10, false, physic.KiloHertz)
	if stats.Hogs == 0 || stats.MaxHogTask != "htu21d" || stats.MaxHog < 20*ms {
		t.Errorf("inline on a 1 kHz bus: %d hogs, longest %v in %q; want hogs by htu21d", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
	}
	if stats, _ := hogScenario(t, 10, true, physic.KiloHertz); stats.Hogs != 0 {
		t.Errorf("offloaded on a 1 kHz bus: %d hogs, longest %v in %q", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
	}
}

// hogScenario runs the driver for rounds of ten virtual seconds with
// injected faults, its bus time charged to the virtual clock at speed (0:
// the simulation's default, 100 kHz).
func hogScenario(t *testing.T, rounds int, offload bool, speed physic.Frequency) (stats loop.Stats, ops int) {
	w := drivertest.NewWorld(loop.WithHogThreshold(20 * ms))
	sim := htu21dtest.New(w.VC.Now)
	w.ChargeBusTime(sim)
	if speed > 0 {
		if err := sim.SetSpeed(speed); err != nil {
			t.Fatal(err)
		}
	}
	opts := []htu21d.Option{htu21d.WithPeriod(time.Second)}
	if offload {
		opts = append(opts, htu21d.WithOffload())
	}
	d := mustNew(t, sim, opts...)
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("htu21d", d.Run)
		for i := range rounds {
			if i%10 == 5 {
				sim.CorruptNext(htu21dtest.FlipCRC(0))
			}
			if i%25 == 7 {
				sim.FailNext(3)
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

// gateBus holds its first transaction until released: with WithOffload a
// task on the loop can release it, so the loop ran during the transfer.
// With abandon, the held transaction then fails instead of reaching the
// chip, as a transfer whose task was cancelled might.
type gateBus struct {
	i2c.Bus
	entered chan struct{} // closed when the first transaction arrives
	release chan struct{}
	abandon bool
	once    sync.Once
}

func newGateBus(bus i2c.Bus, abandon bool) *gateBus {
	return &gateBus{Bus: bus, entered: make(chan struct{}), release: make(chan struct{}), abandon: abandon}
}

func (b *gateBus) Tx(addr uint16, w, r []byte) error {
	held := false
	var err error
	b.once.Do(func() {
		held = true
		close(b.entered)
		select {
		case <-b.release:
		case <-time.After(10 * time.Second): // only when the test fails
			err = errors.New("gateBus: transfer held the loop")
		}
	})
	switch {
	case err != nil:
		return err
	case held && b.abandon:
		return errors.New("gateBus: abandoned")
	}
	return b.Bus.Tx(addr, w, r)
}

// awaitEntered waits, off the loop, until the first transaction is held.
func (b *gateBus) awaitEntered(tk *loop.Task) error {
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
		select {
		case <-b.entered:
			return struct{}{}, nil
		case <-ctx.Done():
			return struct{}{}, ctx.Err()
		}
	})
	return err
}

// With WithOffload the loop runs other tasks while a transfer is on the
// bus: here the task that ends the transfer. Inline, the transfer would
// hold the loop and the releasing task could never run.
func TestOffloadFreesTheLoop(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	bus := newGateBus(sim, false)
	d := mustNew(t, bus, htu21d.WithOffload())
	var readErr error
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("read", func(tk *loop.Task) error {
			_, readErr = d.Read(tk)
			return nil
		})
		g.Go("release", func(tk *loop.Task) error {
			if err := bus.awaitEntered(tk); err != nil {
				return err
			}
			close(bus.release)
			return nil
		})
		return g.Wait(tk)
	})
	if readErr != nil {
		t.Fatal(readErr)
	}
}

// Cancelling a Read in an offloaded transfer returns at once; the driver
// then works on.
func TestOffloadCancelled(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	bus := newGateBus(sim, true)
	d := mustNew(t, bus, htu21d.WithOffload())
	var errs [2]error
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		reader := g.Go("read", func(tk *loop.Task) error {
			_, errs[0] = d.Read(tk)
			return errs[0]
		})
		if err := bus.awaitEntered(tk); err != nil {
			return err
		}
		reader.Cancel()
		if err := reader.Wait(tk); !errors.Is(err, loop.ErrCancelled) {
			return fmt.Errorf("cancelled reader: %v", err)
		}
		close(bus.release)
		_, errs[1] = d.Read(tk)
		return g.Wait(tk)
	})
	if !errors.Is(errs[0], loop.ErrCancelled) || errs[1] != nil {
		t.Errorf("errors %v; want ErrCancelled, nil", errs)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	sim := htu21dtest.New(nil)
	for _, c := range []struct {
		bus  i2c.Bus
		opts []htu21d.Option
		want string
	}{
		{nil, nil, "htu21d: New: nil bus"},
		{sim, []htu21d.Option{htu21d.WithPeriod(0)}, "htu21d: WithPeriod(0s): must be positive"},
		{sim, []htu21d.Option{htu21d.WithBackoff(2*time.Second, time.Second)}, "htu21d: WithBackoff(2s, 1s): want 0 < first ≤ max"},
		{sim, []htu21d.Option{htu21d.WithMeasurementResolution(0x42)}, "htu21d: WithMeasurementResolution(0x42): not one of RH12T14, RH8T12, RH10T13, RH11T11"},
		{sim, []htu21d.Option{htu21d.WithQueueSize(0), htu21d.WithPeriod(-time.Second)}, "htu21d: WithQueueSize(0): must be at least 1\nhtu21d: WithPeriod(-1s): must be positive"},
		{nil, []htu21d.Option{htu21d.WithOffload()}, "htu21d: New: nil bus"},
	} {
		d, err := htu21d.New(c.bus, c.opts...)
		if d != nil || err == nil || err.Error() != c.want {
			t.Errorf("New: %v, %v; want %q", d, err, c.want)
		}
	}
	d := mustNew(t, sim)
	if d.String() != "htu21d 0x40 on htu21dtest" {
		t.Errorf("String() = %q", d)
	}
}

func TestSetResolutionRejectsBadValue(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim)
	var err error
	w.Run(t, func(tk *loop.Task) error {
		err = d.SetResolution(tk, 0x02)
		return nil
	})
	if err == nil || len(sim.Ops()) != 0 {
		t.Errorf("SetResolution(0x02) = %v after %d transactions", err, len(sim.Ops()))
	}
}

// Whatever the bus answers, Read returns a reading in range or a
// *DeviceError, and never panics.
func FuzzRead(f *testing.F) {
	f.Add([]byte{0, 0, 0x02, 0, 0, 0x68, 0x3A, 0x7C, 0, 0, 0x4E, 0x85, 0x6B})
	f.Add([]byte{0, 0, 0x02, 0, 0, 0x68, 0x3A, 0x7D})
	f.Add([]byte{0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := drivertest.NewWorld()
		d := mustNew(t, &drivertest.ScriptBus{Data: data}, htu21d.WithMeasurementResolution(htu21d.RH11T11))
		var r htu21d.Reading
		var err error
		w.Run(t, func(tk *loop.Task) error {
			r, err = d.Read(tk)
			return nil
		})
		var de *drivers.DeviceError
		switch {
		case err != nil && !errors.As(err, &de):
			t.Fatalf("Read: %v is not a *DeviceError", err)
		case err == nil && (r.Humidity < 0 || r.Humidity > 100 || r.Celsius < -46.85 || r.Celsius > 128.87):
			t.Fatalf("Read = %+v", r)
		}
	})
}

// A bus that panics (a playback does on an unexpected transaction) gives a
// *DeviceError wrapping a *loop.PanicError, inline as offloaded: Run would
// publish an error state and go on.
func TestBusPanicIsAnError(t *testing.T) {
	for _, offload := range []bool{false, true} {
		w := drivertest.NewWorld()
		var opts []htu21d.Option
		if offload {
			opts = append(opts, htu21d.WithOffload())
		}
		d := mustNew(t, &i2ctest.Playback{}, opts...)
		var err error
		w.Run(t, func(tk *loop.Task) error {
			_, err = d.Read(tk)
			return nil
		})
		var de *drivers.DeviceError
		var pe *loop.PanicError
		if !errors.As(err, &de) || de.Op != "soft reset" || !errors.As(err, &pe) || pe.Task != "main" {
			t.Errorf("offload %v: Read: %v", offload, err)
		}
	}
}

// lagBus makes its first transaction a slow one — it takes `slow` of real
// time, as on a bit-banged bus — and records how many transactions were on
// the bus at once.
type lagBus struct {
	i2c.Bus
	slow    time.Duration
	entered chan struct{} // closed when the first transaction starts

	mu      sync.Mutex
	n       int
	active  int
	overlap int // transactions that started while another was on the bus
}

func newLagBus(bus i2c.Bus, slow time.Duration) *lagBus {
	return &lagBus{Bus: bus, slow: slow, entered: make(chan struct{})}
}

func (b *lagBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	b.n++
	first := b.n == 1
	if b.active > 0 {
		b.overlap++
	}
	b.active++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.active--
		b.mu.Unlock()
	}()
	if first {
		close(b.entered)
		time.Sleep(b.slow) // the slow transfer itself
	}
	return b.Bus.Tx(addr, w, r)
}

func (b *lagBus) overlaps() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overlap
}

// A Read cancelled during an offloaded transfer leaves that transfer
// running on its goroutine. The next Read must not put a transfer on the
// bus before it has ended: the chip would see two at once. It waits, then
// reads normally.
func TestAbandonedTransferIsNotOverlapped(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	bus := newLagBus(sim, 50*ms)
	d := mustNew(t, bus, htu21d.WithOffload())
	var next htu21d.Reading
	var nextErr error
	w.Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		first := g.Go("first", func(tk *loop.Task) error {
			_, err := d.Read(tk)
			return err
		})
		// Wait, off the loop, until the first transfer is on the bus.
		if _, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
			select {
			case <-bus.entered:
				return struct{}{}, nil
			case <-ctx.Done():
				return struct{}{}, ctx.Err()
			}
		}); err != nil {
			return err
		}
		first.Cancel()
		if err := first.Wait(tk); !errors.Is(err, loop.ErrCancelled) {
			return fmt.Errorf("first Read: %v, want ErrCancelled", err)
		}
		next, nextErr = d.Read(tk)
		return g.Wait(tk)
	})
	if n := bus.overlaps(); n != 0 {
		t.Errorf("%d transfers started while the abandoned one was still on the bus", n)
	}
	if nextErr != nil || next.Celsius < 24.9 || next.Celsius > 25.1 {
		t.Errorf("Read after the abandoned transfer: %+v, %v", next, nextErr)
	}
	if v := sim.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

// Read is a checkpoint: a cancelled task, or one inside an expired
// WaitFor scope, gets its interruption and puts nothing on the bus.
func TestReadCheckpoint(t *testing.T) {
	w := drivertest.NewWorld()
	sim := htu21dtest.New(w.VC.Now)
	d := mustNew(t, sim)
	var errs []error
	var ops int
	w.Run(t, func(tk *loop.Task) error {
		if _, err := d.Read(tk); err != nil { // initialises the sensor
			return err
		}
		ops = len(sim.Ops())
		scope := loop.WaitFor(tk, time.Millisecond, func(tk *loop.Task) error {
			if err := tk.Sleep(time.Second); !errors.Is(err, loop.ErrTimeout) {
				return fmt.Errorf("sleep in the scope: %v, want ErrTimeout", err)
			}
			_, err := d.Read(tk)
			errs = append(errs, err)
			return err
		})
		if !errors.Is(scope, loop.ErrTimeout) {
			return fmt.Errorf("the scope: %v, want ErrTimeout", scope)
		}
		tk.Cancel()
		_, err := d.Read(tk)
		errs = append(errs, err)
		return nil
	})
	if len(errs) != 2 || !errors.Is(errs[0], loop.ErrTimeout) || !errors.Is(errs[1], loop.ErrCancelled) || len(sim.Ops()) != ops {
		t.Errorf("Reads: %v, %d transactions after them; want ErrTimeout, ErrCancelled, none", errs, len(sim.Ops())-ops)
	}
}
