package contact_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/contact"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	L = gpio.Low
	H = gpio.High
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// run plays steps on a switch built with opts, starting at level initial,
// on a virtual clock, and returns its queued events as "closed@t" strings.
func run(t *testing.T, opts []contact.Option, initial gpio.Level, steps ...gpiointest.Step) (string, *contact.Switch) {
	t.Helper()
	pin := gpiointest.NewPin("door", initial)
	sw, err := contact.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		return drivertest.Play(tk, "switch", sw.Run, pin, time.Second, steps...)
	})
	var got []string
	for e, err := sw.Events().TryGet(); err == nil; e, err = sw.Events().TryGet() {
		kind := "opened"
		if e.Closed {
			kind = "closed"
		}
		got = append(got, fmt.Sprintf("%s@%v", kind, w.Since(e.Time)))
	}
	return strings.Join(got, " "), sw
}

func TestDebounce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []contact.Option
		steps []gpiointest.Step
		want  string
	}{
		{"clean close and open", nil,
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(900), Level: H}},
			"closed@100ms opened@900ms"},
		{"1 ms bounce storms on both changes", nil,
			append(drivertest.Bounce(ms(100), 24, L), drivertest.Bounce(ms(900), 40, H)...),
			"closed@100ms opened@900ms"},
		{"closed for less than the debounce time: opened when quiet", nil,
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(149), Level: H}},
			"closed@100ms opened@199ms"},
		{"closed for just over the debounce time", nil,
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(151), Level: H}},
			"closed@100ms opened@151ms"},
		{"custom debounce time", []contact.Option{contact.WithDebounce(ms(10))},
			append(drivertest.Bounce(ms(100), 4, L), gpiointest.Step{At: ms(120), Level: H}),
			"closed@100ms opened@120ms"},
		{"debounce off", []contact.Option{contact.WithDebounce(0)},
			drivertest.Bounce(ms(100), 3, L), // from closed: High, Low, High, Low
			"opened@100ms closed@101ms opened@102ms closed@103ms"},
		{"active high", []contact.Option{contact.ActiveHigh()},
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(300), Level: H}},
			"opened@100ms closed@300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			initial := H
			if tc.name == "debounce off" {
				initial = L
			}
			got, _ := run(t, tc.opts, initial, tc.steps...)
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// The state at start is readable and awaitable but not an event.
func TestInitialState(t *testing.T) {
	got, sw := run(t, nil, L)
	if got != "" || !sw.Closed() || !sw.Known() {
		t.Fatalf("events %q, closed %v known %v; want none, closed, known", got, sw.Closed(), sw.Known())
	}
}

// WaitClosed and WaitOpen return at once in their state, else when the
// contact gets there.
func TestWaitClosedAndOpen(t *testing.T) {
	pin := gpiointest.NewPin("door", H)
	sw, err := contact.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		start := tk.Loop().Now()
		g := loop.NewGroup(tk)
		g.Go("switch", sw.Run)
		watcher := g.Go("watcher", func(tk *loop.Task) error {
			for range 2 {
				at, err := sw.WaitOpen(tk)
				if err != nil {
					return err
				}
				log = append(log, fmt.Sprintf("open since %v, now %v", at.Sub(start), tk.Loop().Now().Sub(start)))
				if at, err = sw.WaitClosed(tk); err != nil {
					return err
				}
				log = append(log, fmt.Sprintf("closed since %v, now %v", at.Sub(start), tk.Loop().Now().Sub(start)))
			}
			return nil
		})
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := pin.Play(tk, gpiointest.Step{At: ms(100), Level: L}, gpiointest.Step{At: ms(500), Level: H}, gpiointest.Step{At: ms(800), Level: L}); err != nil {
			return err
		}
		if err := watcher.Wait(tk); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	want := "open since 0s, now 0s|closed since 100ms, now 100ms|open since 500ms, now 500ms|closed since 800ms, now 800ms"
	if got := strings.Join(log, "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCallbackAndQueueOverflow(t *testing.T) {
	var seen []bool
	got, sw := run(t, []contact.Option{contact.WithQueueSize(1), contact.OnEvent(func(e contact.Event) { seen = append(seen, e.Closed) })},
		H, gpiointest.Step{At: ms(100), Level: L}, gpiointest.Step{At: ms(200), Level: H}, gpiointest.Step{At: ms(300), Level: L})
	if fmt.Sprint(seen) != "[true false true]" || got != "closed@300ms" || sw.Stats().Dropped != 2 {
		t.Fatalf("callback %v, queue %q, dropped %d; want [true false true], the last, 2", seen, got, sw.Stats().Dropped)
	}
}

func TestPolledSwitch(t *testing.T) {
	opts := []contact.Option{contact.WithInput(gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(ms(20)))}
	got, sw := run(t, opts, H, append(drivertest.Bounce(ms(105), 6, L), gpiointest.Step{At: ms(705), Level: H})...)
	if got != "closed@120ms opened@720ms" || sw.Input().Mode() != gpioin.Polling {
		t.Fatalf("got %s (mode %v), want closed@120ms opened@720ms polling", got, sw.Input().Mode())
	}
}

func TestBadOptions(t *testing.T) {
	pin := gpiointest.NewPin("door", H)
	for _, tc := range []struct {
		opt  contact.Option
		want string
	}{
		{contact.WithDebounce(-time.Millisecond), "WithDebounce(-1ms)"},
		{contact.WithQueueSize(-1), "WithQueueSize(-1)"},
		{contact.WithInput(gpioin.WithEdgeBuffer(0)), "WithEdgeBuffer(0)"},
	} {
		if _, err := contact.New(pin, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error containing %q", err, tc.want)
		}
	}
	if _, err := contact.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
}

// Latest holds the state read at start, then each change; a watcher
// following it with WaitNext sees them all. A second Run at once is
// refused, and Run runs again after it returned.
func TestLatestAndRunAgain(t *testing.T) {
	pin := gpiointest.NewPin("door", H)
	sw, err := contact.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var second error
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		for round := range 2 {
			g := loop.NewGroup(tk)
			g.Go("switch", sw.Run)
			if round == 0 {
				g.Go("again", func(tk *loop.Task) error { second = sw.Run(tk); return nil })
				g.Go("follow", func(tk *loop.Task) error {
					var n uint64
					for {
						var e contact.Event
						var err error
						if e, n, err = sw.Latest().WaitNext(tk, n); err != nil {
							return err
						}
						seen = append(seen, e.String()[:6]+"@"+w.Since(e.Time).String())
					}
				})
			}
			if err := pin.Play(tk, gpiointest.Step{At: ms(100), Level: L}, gpiointest.Step{At: ms(300), Level: H}); err != nil {
				return err
			}
			if err := g.Stop(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if want := "[opened@0s closed@100ms opened@300ms]"; fmt.Sprint(seen) != want {
		t.Errorf("followed %v, want %s", seen, want)
	}
	if !errors.Is(second, contact.ErrRunning) || sw.Stats().Changes != 4 {
		t.Errorf("second Run %v, stats %+v; want ErrRunning, 4 changes over two runs", second, sw.Stats())
	}
}
