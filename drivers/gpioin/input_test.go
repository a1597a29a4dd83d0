package gpioin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	L = gpio.Low
	H = gpio.High
)

// seen is an edge as the tests compare it: level and virtual time since the
// start of the script.
type seen struct {
	Level   gpio.Level
	At      time.Duration
	Initial bool
}

func (s seen) String() string {
	i := ""
	if s.Initial {
		i = "*"
	}
	return fmt.Sprintf("%v@%v%s", s.Level, s.At, i)
}

func fmtSeen(s []seen) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.String()
	}
	return strings.Join(parts, " ")
}

// watch runs in with a recording function while script plays on pin, then
// for tail more, and returns what the function saw.
func watch(t *testing.T, in *gpioin.Input, pin *gpiointest.Pin, tail time.Duration, script ...gpiointest.Step) []seen {
	t.Helper()
	var got []seen
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		return drivertest.Play(tk, "input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) {
				got = append(got, seen{e.Level, w.Since(e.Time), e.Initial})
			})
		}, pin, tail, script...)
	})
	return got
}

func mustInput(t *testing.T, pin gpio.PinIn, opts ...gpioin.Option) *gpioin.Input {
	t.Helper()
	in, err := gpioin.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSimPinEdgesAtExactTimes(t *testing.T) {
	pin := gpiointest.NewPin("b", H)
	in := mustInput(t, pin)
	got := watch(t, in, pin, 0,
		gpiointest.Step{At: ms(10), Level: L},
		gpiointest.Step{At: ms(10.5), Level: H},
		gpiointest.Step{At: ms(11), Level: H}, // no change: no edge
		gpiointest.Step{At: ms(2000), Level: L},
	)
	want := []seen{{H, 0, true}, {L, ms(10), false}, {H, ms(10.5), false}, {L, ms(2000), false}}
	if fmtSeen(got) != fmtSeen(want) {
		t.Fatalf("got  %s\nwant %s", fmtSeen(got), fmtSeen(want))
	}
	if in.Mode() != gpioin.OnLoop || in.Stats().Edges != 3 || in.Level() != L {
		t.Fatalf("mode %v stats %+v level %v", in.Mode(), in.Stats(), in.Level())
	}
}

// A pin without edge detection is polled in Auto mode: changes are seen at
// the first poll after them, and a pulse between two polls is not seen.
func TestAutoFallsBackToPolling(t *testing.T) {
	pin := gpiointest.NewPin("b", H)
	pin.NoEdges = true
	in := mustInput(t, pin, gpioin.WithPollPeriod(ms(10)))
	got := watch(t, in, pin, ms(20),
		gpiointest.Step{At: ms(13), Level: L},
		gpiointest.Step{At: ms(31), Level: H},
		gpiointest.Step{At: ms(42), Level: L}, // 42–48: between polls at 40 and 50
		gpiointest.Step{At: ms(48), Level: H},
	)
	want := []seen{{H, 0, true}, {L, ms(20), false}, {H, ms(40), false}}
	if fmtSeen(got) != fmtSeen(want) {
		t.Fatalf("got  %s\nwant %s", fmtSeen(got), fmtSeen(want))
	}
	if in.Mode() != gpioin.Polling {
		t.Fatalf("mode %v, want polling", in.Mode())
	}
}

func TestForcedPollingOfALoopPin(t *testing.T) {
	pin := gpiointest.NewPin("b", L)
	in := mustInput(t, pin, gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(ms(5)))
	got := watch(t, in, pin, ms(5), gpiointest.Step{At: ms(7), Level: H})
	want := []seen{{L, 0, true}, {H, ms(10), false}}
	if fmtSeen(got) != fmtSeen(want) || in.Mode() != gpioin.Polling {
		t.Fatalf("got %s mode %v, want %s polling", fmtSeen(got), in.Mode(), fmtSeen(want))
	}
}

func TestForcedEdgesWithoutEdgeDetectionFails(t *testing.T) {
	pin := gpiointest.NewPin("b", L)
	pin.NoEdges = true
	in := mustInput(t, pin, gpioin.WithMode(gpioin.Edges))
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		err := in.Run(tk, func(gpioin.Edge) {})
		if err == nil || !strings.Contains(err.Error(), "sim:b") || !strings.Contains(err.Error(), "edge detection") {
			t.Errorf("Run: %v, want an edge-detection error naming the pin", err)
		}
		return nil
	})
}

func TestBadOptions(t *testing.T) {
	pin := gpiointest.NewPin("p", L)
	for _, tc := range []struct {
		opt  gpioin.Option
		want string
	}{
		{gpioin.WithPollPeriod(0), "WithPollPeriod(0s): must be positive"},
		{gpioin.WithWakeInterval(-time.Second), "WithWakeInterval(-1s)"},
		{gpioin.WithEdgeBuffer(0), "WithEdgeBuffer(0)"},
		{gpioin.WithMode(gpioin.OnLoop), "WithMode(on-loop)"},
		{gpioin.WithPull(gpio.Pull(9)), "WithPull(Pull(9))"},
	} {
		_, err := gpioin.New(pin, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "sim:p") {
			t.Errorf("New: %v, want an error containing %q and the pin", err, tc.want)
		}
	}
	if _, err := gpioin.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
}

func TestRunTwiceAtOnceFails(t *testing.T) {
	pin := gpiointest.NewPin("b", L)
	in := mustInput(t, pin)
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("first", func(tk *loop.Task) error { return in.Run(tk, func(gpioin.Edge) {}) })
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := in.Run(tk, func(gpioin.Edge) {}); !errors.Is(err, gpioin.ErrRunning) {
			t.Errorf("second Run: %v, want ErrRunning", err)
		}
		return g.Stop(tk)
	})
}

// After Run returns, a LoopPin's changes reach nobody.
func TestNoEdgesAfterRun(t *testing.T) {
	pin := gpiointest.NewPin("b", H)
	in := mustInput(t, pin)
	n := 0
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		err := loop.WaitFor(tk, time.Second, func(tk *loop.Task) error {
			return in.Run(tk, func(gpioin.Edge) { n++ })
		})
		if !errors.Is(err, loop.ErrTimeout) {
			t.Errorf("Run: %v, want the scope's timeout", err)
		}
		pin.Set(L)
		return nil
	})
	if n != 1 { // the initial level only
		t.Fatalf("%d calls, want 1", n)
	}
}

// --- the real edge goroutine, on the real clock: no timing assertions.

// newEdgePin returns a gpiotest pin whose edges the test feeds through an
// unbuffered channel, so each send returns only once the watcher took it.
func newEdgePin() *gpiotest.Pin {
	return &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level)}
}

// feed sends levels to pin from off the loop and waits until all were
// taken; it fails only with t's interruption.
func feed(t *loop.Task, pin *gpiotest.Pin, levels ...gpio.Level) error {
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		for _, lv := range levels {
			select {
			case pin.EdgesChan <- lv:
			case <-ctx.Done():
				return struct{}{}, ctx.Err()
			}
		}
		return struct{}{}, nil
	})
	return err
}

func TestEdgeGoroutineDeliversAndEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	pin := newEdgePin()
	in := mustInput(t, pin, gpioin.WithPull(gpio.PullUp), gpioin.WithWakeInterval(10*time.Millisecond))
	edges := primitives.NewQueue[gpioin.Edge](0)
	l := loop.New()
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) { _ = edges.TryPut(e) })
		})
		first, err := edges.Get(tk)
		if err != nil {
			return err
		}
		if !first.Initial || first.Level != H || in.Mode() != gpioin.Edges {
			t.Errorf("first edge %v in mode %v, want the initial High (pull-up) in edge mode", first, in.Mode())
		}
		if err := feed(tk, pin, L, H, L); err != nil {
			return err
		}
		var levels []gpio.Level
		var last time.Time
		for range 3 {
			e, err := loop.WaitForValue(tk, 10*time.Second, edges.Get) // a hang guard, not a timing check
			if err != nil {
				return err
			}
			if e.Time.Before(last) || e.Time.Before(first.Time) {
				t.Errorf("edge %v earlier than the one before", e)
			}
			last = e.Time
			levels = append(levels, e.Level)
		}
		if fmt.Sprint(levels) != "[Low High Low]" {
			t.Errorf("levels %v, want [Low High Low]", levels)
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := in.Stats(); s.Edges != 3 || s.Dropped != 0 {
		t.Fatalf("stats %+v, want 3 edges, none dropped", s)
	}
}

// interruptPin is a pin whose WaitForEdge(-1) blocks until In is called, as
// periph's contract describes: with no wake interval the goroutine must end
// through that interruption.
type interruptPin struct {
	gpiotest.Pin
	mu      sync.Mutex
	wake    chan struct{}
	waiting atomic.Int32
}

func (p *interruptPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wake != nil {
		close(p.wake)
	}
	p.wake = make(chan struct{})
	return nil
}

func (p *interruptPin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	ch := p.wake
	p.mu.Unlock()
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	<-ch
	return false
}

func TestEdgeGoroutineEndsThroughIn(t *testing.T) {
	defer goleak.VerifyNone(t)
	pin := &interruptPin{}
	in := mustInput(t, pin, gpioin.WithWakeInterval(0))
	l := loop.New()
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		err := loop.WaitFor(tk, 20*time.Millisecond, func(tk *loop.Task) error {
			return in.Run(tk, func(gpioin.Edge) {})
		})
		if !errors.Is(err, loop.ErrTimeout) {
			t.Errorf("Run: %v, want the scope's timeout", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := pin.waiting.Load(); n != 0 {
		t.Fatalf("%d goroutines still in WaitForEdge", n)
	}
}

// Cancelling the loop's main task (as at shutdown) ends the goroutine too.
func TestEdgeGoroutineEndsAtShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	pin := newEdgePin()
	in := mustInput(t, pin, gpioin.WithWakeInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	l := loop.New()
	err := l.Run(ctx, func(tk *loop.Task) error {
		l.Go("input", func(tk *loop.Task) error { return in.Run(tk, func(gpioin.Edge) {}) })
		if err := tk.Yield(); err != nil {
			return err
		}
		cancel()
		var never loop.WaitQueue
		return never.Wait(tk)
	})
	if !errors.Is(err, loop.ErrCancelled) {
		t.Fatalf("Run: %v, want cancelled", err)
	}
}

// When the loop falls behind by more than the edge buffer, the newest edge
// replaces the last buffered one: the final level still arrives.
func TestEdgeBufferOverflowKeepsLastLevel(t *testing.T) {
	defer goleak.VerifyNone(t)
	pin := newEdgePin()
	in := mustInput(t, pin, gpioin.WithEdgeBuffer(2), gpioin.WithWakeInterval(5*time.Millisecond))
	l := loop.New()
	edges := primitives.NewQueue[gpioin.Edge](0)
	var got []gpio.Level
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) {
				if !e.Initial {
					_ = edges.TryPut(e)
				}
			})
		})
		if err := tk.Yield(); err != nil {
			return err
		}
		// Hold the loop (a deliberate hog) while six edges arrive, so they
		// pile up in the watcher's buffer.
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for _, lv := range []gpio.Level{L, H, L, H, L, H} {
				pin.EdgesChan <- lv
			}
		}()
		<-sent //loopvet:ok the test blocks the loop on purpose, to overflow the buffer
		for {
			e, err := loop.WaitForValue(tk, 10*time.Second, edges.Get) // a hang guard
			if err != nil {
				return err
			}
			got = append(got, e.Level)
			if s := in.Stats(); s.Edges+s.Dropped == 6 {
				for e, err := edges.TryGet(); err == nil; e, err = edges.TryGet() {
					got = append(got, e.Level)
				}
				return g.Stop(tk)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every edge was delivered or counted as dropped, and the last level
	// delivered is the pin's.
	if len(got) == 0 || got[len(got)-1] != H {
		t.Fatalf("levels %v: want the last to be High", got)
	}
	if s := in.Stats(); s.Edges+s.Dropped != 6 || s.Dropped == 0 {
		t.Fatalf("stats %+v: want 6 edges in all, some dropped", s)
	}
}
