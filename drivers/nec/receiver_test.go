package nec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // the virtual clock's start

// burst turns edge times into pin levels from `at`: an IR receiver's output
// idles high and is low during a mark, so edges alternate Low, High, ….
func burst(at time.Duration, edges []time.Duration) []gpiointest.Step {
	steps := make([]gpiointest.Step, len(edges))
	for i, e := range edges {
		steps[i] = gpiointest.Step{At: at + e - edges[0], Level: gpio.Level(i%2 == 1)}
	}
	return steps
}

// rx is one result as the tests see it: what, the burst's start and when it
// was delivered, both from the epoch.
type rx struct {
	what      string
	start, at time.Duration
}

func (r rx) String() string { return fmt.Sprintf("%s [%v→%v]", r.what, r.start, r.at) }

// receive plays script into a Receiver built with opts on a virtual clock,
// and returns its results in order, checking the queue got the same ones.
func receive(t *testing.T, opts []nec.Option, script ...gpiointest.Step) ([]rx, *nec.Receiver) {
	t.Helper()
	pin := gpiointest.NewPin("IR", gpio.High)
	w := drivertest.NewWorldAt(epoch)
	var got []rx
	opts = append(opts, nec.OnEvent(func(r nec.Received) {
		got = append(got, rx{r.String(), r.Time.Sub(epoch), w.L.Now().Sub(epoch)})
	}))
	r, err := nec.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w.Run(t, func(tk *loop.Task) error {
		return drivertest.Play(tk, "ir", r.Run, pin, time.Second, script...)
	})
	var queued []string
	for res, err := r.Events().TryGet(); err == nil; res, err = r.Events().TryGet() {
		queued = append(queued, res.String())
	}
	if n := min(len(got), r.Events().Cap()); len(queued) != n {
		t.Fatalf("queue holds %d results, callback saw %d", len(queued), len(got))
	}
	return got, r
}

func enc(t *testing.T, f nec.Frame) []time.Duration { return mustEncode(t, f) }

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestReceiveFrameAndRepeats(t *testing.T) {
	key := nec.Frame{Address: 0x04, Command: 0x08}
	frame, rep := enc(t, key), enc(t, nec.Frame{Repeat: true})
	var script []gpiointest.Step
	script = append(script, burst(ms(100), frame)...)
	for i := 1; i <= 3; i++ {
		script = append(script, burst(ms(100)+time.Duration(i)*nec.RepeatPeriod, rep)...)
	}
	got, r := receive(t, nil, script...)
	want := []rx{
		{"address 0x04 command 0x08", ms(100), ms(173)},
		{"repeat of address 0x04 command 0x08", ms(208), ms(281)},
		{"repeat of address 0x04 command 0x08", ms(316), ms(389)},
		{"repeat of address 0x04 command 0x08", ms(424), ms(497)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if s := r.Stats(); s.Frames != 1 || s.Repeats != 3 || s.Errors != 0 || r.Input().Mode() != gpioin.OnLoop {
		t.Fatalf("stats %+v mode %v", s, r.Input().Mode())
	}
}

func TestReceiveExtended(t *testing.T) {
	f := nec.Frame{Address: 0x1234, Command: 0x42, Extended: true}
	got, _ := receive(t, []nec.Option{nec.AcceptExtended()}, burst(0, enc(t, f))...)
	if want := "[address 0x1234 (extended) command 0x42 [0s→80ms]]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	got, _ = receive(t, nil, burst(0, enc(t, f))...)
	if len(got) != 1 || !strings.HasPrefix(got[0].what, "nec: bad address") {
		t.Fatalf("without AcceptExtended: %v, want bad address", got)
	}
}

// Every interval jittered by up to ±20 %, independently (a seeded
// generator), for frames and repeat codes of random keys.
func TestReceiveWithJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 20))
	jitter := func(edges []time.Duration) []time.Duration {
		return scaleGaps(edges, func(int) float64 { return 0.8 + 0.4*rng.Float64() })
	}
	var script []gpiointest.Step
	var want []string
	at := time.Duration(0)
	for i := range 100 {
		key := nec.Frame{Address: uint16(rng.IntN(256)), Command: uint8(rng.IntN(256))}
		script = append(script, burst(at, jitter(enc(t, key)))...)
		want = append(want, key.String())
		for j := range i % 3 {
			script = append(script, burst(at+time.Duration(j+1)*nec.RepeatPeriod, jitter(enc(t, nec.Frame{Repeat: true})))...)
			key.Repeat = true
			want = append(want, key.String())
		}
		at += 4 * nec.RepeatPeriod
	}
	got, r := receive(t, []nec.Option{nec.WithQueueSize(1000)}, script...)
	var whats []string
	for _, g := range got {
		whats = append(whats, g.what)
	}
	if strings.Join(whats, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(whats, "\n"), strings.Join(want, "\n"))
	}
	if s := r.Stats(); s.Errors != 0 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A remote whose clock is 20 % slow sends 81 ms frames, longer than the
// 73 ms block wait: the wait is extended once, by a fifth. A 20 % fast one
// needs nothing.
func TestReceiveSlowAndFastRemote(t *testing.T) {
	key := nec.Frame{Address: 0x00, Command: 0x00}  // all zero bits: its shortest frame …
	long := nec.Frame{Address: 0x7f, Command: 0xff} // … and one with 16 one bits, like all 8-bit frames
	for _, tc := range []struct {
		name  string
		f     nec.Frame
		scale float64
		at    time.Duration
	}{
		{"20 % slow", long, 1.2, ms(73 + 14.6)},
		{"20 % fast", long, 0.8, ms(73)},
		{"20 % slow, short frame", key, 1.2, ms(73 + 14.6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edges := scaleGaps(enc(t, tc.f), func(int) float64 { return tc.scale })
			got, _ := receive(t, nil, burst(0, edges)...)
			want := fmt.Sprint([]rx{{tc.f.String(), 0, tc.at}})
			if fmt.Sprint(got) != want {
				t.Fatalf("got %v, want %s", got, want)
			}
		})
	}
}

// Bad bursts come out as errors in the stream, never as panics; the
// receiver goes on decoding.
func TestReceiveErrors(t *testing.T) {
	key := nec.Frame{Address: 0x10, Command: 0x20}
	frame := enc(t, key)
	noise := []time.Duration{0, ms(1), ms(1.5), ms(3)}
	overrun := append(append([]time.Duration(nil), frame...), frame[len(frame)-1]+ms(1), frame[len(frame)-1]+ms(2))
	truncated := frame[:40]
	var script []gpiointest.Step
	script = append(script, burst(0, noise)...)
	script = append(script, burst(ms(200), overrun)...)
	script = append(script, burst(ms(400), truncated)...)
	script = append(script, burst(ms(600), enc(t, nec.Frame{Repeat: true}))...) // no frame before it
	script = append(script, burst(ms(800), frame)...)
	got, r := receive(t, nil, script...)
	if len(got) != 5 || !strings.HasPrefix(got[0].what, "nec: bad start") || !strings.HasPrefix(got[1].what, "nec: overrun") ||
		!strings.HasPrefix(got[2].what, "nec: bad block") || !strings.HasPrefix(got[3].what, "nec: bad repeat") ||
		got[4].what != key.String() {
		t.Fatalf("got %v", got)
	}
	// The truncated frame was given its one extension.
	if got[2].at != ms(400+73+14.6) {
		t.Fatalf("truncated frame decoded at %v, want after the extended wait", got[2].at)
	}
	if s := r.Stats(); s.Errors != 4 || s.Frames != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReceiveErrorKindsMatch(t *testing.T) {
	pin := gpiointest.NewPin("IR", gpio.High)
	r, err := nec.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	drivertest.NewWorldAt(epoch).Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("ir", r.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := pin.Play(tk, burst(0, []time.Duration{0, ms(2), ms(4)})...); err != nil {
			return err
		}
		res, err := r.Events().Get(tk)
		if err != nil {
			return err
		}
		if !errors.Is(res.Err, nec.ErrBadStart) || res.Edges != 3 || res.Time != epoch {
			t.Errorf("got %+v, want ErrBadStart, 3 edges, at the epoch", res)
		}
		return g.Stop(tk)
	})
}

func TestWithoutErrors(t *testing.T) {
	pin := gpiointest.NewPin("IR", gpio.High)
	r, err := nec.New(pin, nec.WithoutErrors())
	if err != nil {
		t.Fatal(err)
	}
	script := append(burst(0, []time.Duration{0, ms(2), ms(4), ms(5)}), burst(ms(200), enc(t, nec.Frame{Address: 1, Command: 2}))...)
	drivertest.NewWorldAt(epoch).Run(t, func(tk *loop.Task) error {
		return drivertest.Play(tk, "ir", r.Run, pin, time.Second, script...)
	})
	res, err := r.Events().TryGet()
	if err != nil || res.Err != nil || res.Frame.Command != 2 || r.Events().Len() != 0 || r.Stats().Errors != 1 {
		t.Fatalf("queue head %v (%v), %d more, stats %+v; want the frame only, 1 error counted", res, err, r.Events().Len(), r.Stats())
	}
}

// A repeat code long after the last valid burst refers to nothing.
func TestStaleRepeat(t *testing.T) {
	frame, rep := enc(t, nec.Frame{Address: 5, Command: 6}), enc(t, nec.Frame{Repeat: true})
	script := append(burst(0, frame), burst(nec.RepeatPeriod, rep)...)
	script = append(script, burst(nec.RepeatPeriod+ms(301), rep)...)
	got, _ := receive(t, nil, script...)
	if len(got) != 3 || got[1].what != "repeat of address 0x05 command 0x06" || !strings.HasPrefix(got[2].what, "nec: bad repeat") {
		t.Fatalf("got %v", got)
	}
}

// latePin is a LoopPin whose edges reach the loop with past stamps, as edges
// do when the loop is busy: an edge stamped inside a decoded burst's window
// must not start a new burst.
type latePin struct {
	*gpiointest.Pin
	fn func(gpioin.Edge)
}

func (p *latePin) Subscribe(l *loop.Loop, fn func(gpioin.Edge)) func() {
	p.fn = fn
	return func() { p.fn = nil }
}

func TestLateEdgesIgnored(t *testing.T) {
	pin := &latePin{Pin: gpiointest.NewPin("IR", gpio.High)}
	r, err := nec.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	frame := enc(t, nec.Frame{Address: 7, Command: 8})
	drivertest.NewWorldAt(epoch).Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("ir", r.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		// All but the last edge on time; the last one arrives after the
		// block wait and its extension, stamped when it happened.
		for i, e := range frame {
			at := e
			if i == len(frame)-1 {
				at = nec.BlockWait*6/5 + ms(10)
			}
			if err := tk.Sleep(epoch.Add(at).Sub(tk.Loop().Now())); err != nil {
				return err
			}
			pin.fn(gpioin.Edge{Level: gpio.Level(i%2 == 1), Time: epoch.Add(e)})
		}
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	res, _ := r.Events().TryGet()
	if s := r.Stats(); s.Late != 1 || s.Errors != 1 || r.Events().Len() != 0 || !errors.Is(res.Err, nec.ErrBadBlock) {
		t.Fatalf("stats %+v, result %v; want the 67-edge burst as bad block and the late edge ignored", s, res)
	}
}

func TestReceiverBadOptions(t *testing.T) {
	pin := gpiointest.NewPin("IR", gpio.High)
	for _, tc := range []struct {
		opt  nec.Option
		want string
	}{
		{nec.WithBlockWait(time.Millisecond), "WithBlockWait(1ms)"},
		{nec.WithBlockWait(nec.RepeatPeriod), "WithBlockWait(108ms)"},
		{nec.WithRepeatTimeout(ms(50)), "WithRepeatTimeout(50ms)"},
		{nec.WithQueueSize(0), "WithQueueSize(0)"},
		{nec.WithInput(gpioin.WithEdgeBuffer(-1)), "WithEdgeBuffer(-1)"},
	} {
		if _, err := nec.New(pin, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewReceiver: %v, want %q", err, tc.want)
		}
	}
	if _, err := nec.New(nil); err == nil {
		t.Error("NewReceiver(nil): no error")
	}
}

// A pin without edge detection is refused at Run: NEC cannot be polled.
func TestReceiverNeedsEdges(t *testing.T) {
	pin := gpiointest.NewPin("IR", gpio.High)
	pin.NoEdges = true
	r, err := nec.New(pin, nec.WithInput(gpioin.WithMode(gpioin.Polling)))
	if err != nil {
		t.Fatal(err)
	}
	l := loop.New(loop.WithClock(loop.NewVirtualClockAt(epoch)))
	err = l.Run(context.Background(), r.Run)
	if err == nil || !strings.Contains(err.Error(), "edge detection") {
		t.Fatalf("Run: %v, want an edge-detection error", err)
	}
}

// A frame and its repeat codes reaching the loop a second late, in one
// batch: each burst is cut at its window by the stamps, as on time.
func TestLateBatch(t *testing.T) {
	pin := &latePin{Pin: gpiointest.NewPin("IR", gpio.High)}
	r, err := nec.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	frame, rep := enc(t, nec.Frame{Address: 9, Command: 10}), enc(t, nec.Frame{Repeat: true})
	var script []gpiointest.Step
	script = append(script, burst(0, frame)...)
	script = append(script, burst(nec.RepeatPeriod, rep)...)
	script = append(script, burst(2*nec.RepeatPeriod, rep)...)
	drivertest.NewWorldAt(epoch).Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("ir", r.Run)
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		for _, s := range script {
			pin.fn(gpioin.Edge{Level: s.Level, Time: epoch.Add(s.At)})
		}
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	var got []string
	for res, err := r.Events().TryGet(); err == nil; res, err = r.Events().TryGet() {
		got = append(got, fmt.Sprintf("%v@%v", res, res.Time.Sub(epoch)))
	}
	want := "[address 0x09 command 0x0a@0s repeat of address 0x09 command 0x0a@108ms repeat of address 0x09 command 0x0a@216ms]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
}
