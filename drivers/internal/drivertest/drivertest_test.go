package drivertest_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
	"github.com/edgeagent/edgeagent/loop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

// Since and SleepUntil measure from the clock's start, wherever it is.
func TestWorldTimes(t *testing.T) {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, w := range []*drivertest.World{drivertest.NewWorld(), drivertest.NewWorldAt(epoch)} {
		var at []time.Duration
		w.Run(t, func(tk *loop.Task) error {
			if err := tk.Sleep(30 * ms); err != nil {
				return err
			}
			at = append(at, w.Since(tk.Loop().Now()))
			if err := w.SleepUntil(tk, 100*ms); err != nil {
				return err
			}
			at = append(at, w.Since(tk.Loop().Now()))
			return nil
		})
		if fmt.Sprint(at) != "[30ms 100ms]" {
			t.Errorf("start %v: times %v, want [30ms 100ms]", w.VC.Now().Add(-w.VC.Elapsed()), at)
		}
	}
}

// TimedBus passes transactions through and logs when each happened.
func TestTimedBus(t *testing.T) {
	w := drivertest.NewWorld()
	pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{1}}, {Addr: 0x40, W: []byte{2}, R: []byte{3}},
	}}
	bus := &drivertest.TimedBus{Bus: pb, Now: w.VC.Now}
	r := make([]byte, 1)
	w.Run(t, func(tk *loop.Task) error {
		if err := bus.Tx(0x40, []byte{1}, nil); err != nil {
			return err
		}
		if err := tk.Sleep(15 * ms); err != nil {
			return err
		}
		return bus.Tx(0x40, []byte{2}, r)
	})
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(bus.Times(w.Since)); got != "[0s 15ms]" || r[0] != 3 {
		t.Errorf("times %s, read %x; want [0s 15ms], 03", got, r)
	}
}

// ScriptBus: a control byte per transaction (bit 0 fails it), then the
// bytes read; then the end of the data.
func TestScriptBus(t *testing.T) {
	b := &drivertest.ScriptBus{Data: []byte{0, 0xAA, 0xBB, 1, 0, 0xCC}}
	var got []string
	for _, n := range []int{2, 1, 2, 0} {
		r := make([]byte, n)
		err := b.Tx(0x40, nil, r)
		got = append(got, fmt.Sprintf("% x %v", r, err))
	}
	want := "[aa bb <nil> 00 script: NACK cc 00 <nil>  script: end of data]"
	if fmt.Sprint(got) != want || b.String() != "script" || b.SetSpeed(0) != nil {
		t.Errorf("got %v\nwant %s", got, want)
	}
}

func TestBounce(t *testing.T) {
	var got []string
	for _, s := range drivertest.Bounce(10*ms, 3, gpio.Low) {
		got = append(got, fmt.Sprintf("%v@%v", s.Level, s.At))
	}
	if want := "[High@10ms Low@11ms High@12ms Low@13ms]"; fmt.Sprint(got) != want {
		t.Errorf("Bounce = %v, want %s", got, want)
	}
	if s := drivertest.Bounce(0, 0, gpio.High); len(s) != 1 || s[0] != (gpiointest.Step{Level: gpio.High}) {
		t.Errorf("Bounce(0, 0, High) = %v", s)
	}
}

// Play starts the task before the first step, so it sees every edge, and
// stops it after the tail.
func TestPlay(t *testing.T) {
	pin := gpiointest.NewPin("p", gpio.High)
	in, err := gpioin.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	w := drivertest.NewWorld()
	var got []string
	var stopped time.Duration
	w.Run(t, func(tk *loop.Task) error {
		err := drivertest.Play(tk, "input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) { got = append(got, fmt.Sprintf("%v@%v", e.Level, w.Since(e.Time))) })
		}, pin, 50*ms, gpiointest.Step{Level: gpio.Low}, gpiointest.Step{At: 20 * ms, Level: gpio.High})
		stopped = w.Since(tk.Loop().Now())
		return err
	})
	if fmt.Sprint(got) != "[High@0s Low@0s High@20ms]" || stopped != 70*ms {
		t.Errorf("edges %v, stopped at %v; want [High@0s Low@0s High@20ms], 70ms", got, stopped)
	}
}

// fakeTB records failures; Fatalf ends the check the way t.Fatalf ends a
// test, by leaving the goroutine's function (here, a panic recovered).
type fakeTB struct {
	testing.TB
	failures []string
}

type fatal struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.failures = append(f.failures, "error: "+fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failures = append(f.failures, "fatal: "+fmt.Sprintf(format, args...))
	panic(fatal{})
}

func noHogs(minOps int, scenario func(offload bool) (loop.Stats, int)) string {
	f := &fakeTB{}
	func() {
		defer func() {
			if p := recover(); p != nil && p != (fatal{}) {
				panic(p)
			}
		}()
		drivertest.NoHogs(f, minOps, scenario)
	}()
	return strings.Join(f.failures, "; ")
}

// NoHogs runs each mode once — no retry hides a hog — and fails when the
// loop counted a hog or too few transactions ran.
func TestNoHogs(t *testing.T) {
	hogged := loop.Stats{Hogs: 2, MaxHog: 30 * ms, MaxHogTask: "drv"}
	var runs []string
	got := noHogs(10, func(offload bool) (loop.Stats, int) {
		runs = append(runs, fmt.Sprint(offload))
		return loop.Stats{}, 10
	})
	if got != "" || fmt.Sprint(runs) != "[false true]" {
		t.Errorf("clean: failures %q, runs %v", got, runs)
	}

	runs = nil
	got = noHogs(10, func(offload bool) (loop.Stats, int) {
		runs = append(runs, fmt.Sprint(offload))
		if !offload {
			return hogged, 10
		}
		return loop.Stats{}, 10
	})
	if want := "error: offload false: the loop was hogged: 2 hogs, longest 30ms in drv"; got != want || fmt.Sprint(runs) != "[false true]" {
		t.Errorf("hogging once:\ngot  %s, runs %v\nwant %s, runs [false true]", got, runs, want)
	}

	got = noHogs(10, func(bool) (loop.Stats, int) { return loop.Stats{}, 9 })
	if want := "fatal: offload false: only 9 transactions"; got != want {
		t.Errorf("too few transactions: %q, want %q", got, want)
	}
}

// chip is a simulated chip that acknowledges everything, for the bus-time
// tests.
func chip(t *testing.T) *i2csim.Chip {
	var mu sync.Mutex
	errNACK := errors.New("NACK")
	return i2csim.NewChip(&mu, 0x40, nil, errNACK, i2csim.NewRecorder(errNACK),
		func(time.Time, []byte, []byte) error { return nil }, func() {})
}

// The check can fail on a real loop: transfers charged to the virtual
// clock, done back to back in one turn on a slow bus, are a hog of the
// task that did them, with exactly their bus time; the same transfers
// with a yield between them are not. The verdict does not depend on the
// machine: it is virtual time.
func TestChargedBusTimeIsAHog(t *testing.T) {
	for _, yield := range []bool{false, true} {
		w := drivertest.NewWorld(loop.WithHogThreshold(20 * ms))
		c := chip(t)
		w.ChargeBusTime(c)
		if err := c.SetSpeed(10 * physic.KiloHertz); err != nil { // a bit-banged bus
			t.Fatal(err)
		}
		var stats loop.Stats
		w.Run(t, func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("drv", func(tk *loop.Task) error {
				for range 10 { // 10 × 38 bit times at 10 kHz = 38 ms
					if yield {
						if err := tk.Yield(); err != nil {
							return err
						}
					}
					if err := c.Tx(0x40, nil, make([]byte, 3)); err != nil {
						return err
					}
				}
				return nil
			})
			if err := g.Wait(tk); err != nil {
				return err
			}
			stats = tk.Loop().Stats()
			return nil
		})
		if w.VC.Elapsed() != 38*ms {
			t.Errorf("yield %v: the transfers took %v of virtual time, want 38ms", yield, w.VC.Elapsed())
		}
		switch {
		case !yield && (stats.Hogs != 1 || stats.MaxHog != 38*ms || stats.MaxHogTask != "drv"):
			t.Errorf("back to back: %d hogs, longest %v in %q; want 1, 38ms in drv", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
		case yield && stats.Hogs != 0:
			t.Errorf("yielding: %d hogs, longest %v in %q; want none", stats.Hogs, stats.MaxHog, stats.MaxHogTask)
		}
		got := noHogs(1, func(bool) (loop.Stats, int) { return stats, 10 })
		if (got == "") != yield {
			t.Errorf("yield %v: NoHogs said %q", yield, got)
		}
	}
}
