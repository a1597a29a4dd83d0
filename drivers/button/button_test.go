package button_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// press holds the button from ms a to ms b.
type press struct{ a, b float64 }

// script turns presses into pin levels for an active-low button (pressed =
// Low), with `bounce` 1 ms pulses after every edge.
func script(bounce int, presses ...press) []gpiointest.Step {
	var steps []gpiointest.Step
	edge := func(at time.Duration, lv gpio.Level) {
		for i := range bounce {
			steps = append(steps, gpiointest.Step{At: at + ms(float64(i)), Level: lv == (i%2 == 0)})
		}
		steps = append(steps, gpiointest.Step{At: at + ms(float64(bounce)), Level: lv})
	}
	for _, p := range presses {
		edge(ms(p.a), gpio.Low)
		if p.b > 0 {
			edge(ms(p.b), gpio.High)
		}
	}
	return steps
}

// run plays steps on a SimPin watched by a button built with opts, on a
// virtual clock, waits tail more, and returns the events as
// "kind@offset" strings, offsets from the start of the script.
func run(t *testing.T, opts []button.Option, initial gpio.Level, tail time.Duration, steps ...gpiointest.Step) string {
	t.Helper()
	pin := gpiointest.NewPin("btn", initial)
	b, err := button.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		return drivertest.Play(tk, "button", b.Run, pin, tail, steps...)
	})
	return events(w, b)
}

// events takes the button's queued events as "kind@offset" strings.
func events(w *drivertest.World, b *button.Button) string {
	var got []string
	for e, err := b.Events().TryGet(); err == nil; e, err = b.Events().TryGet() {
		got = append(got, fmt.Sprintf("%v@%v", e.Kind, w.Since(e.Time)))
	}
	return strings.Join(got, " ")
}

// latePin is a LoopPin whose edges the test hands to the input itself, with
// any stamp: edges that reach the loop late, as when it is busy.
type latePin struct {
	*gpiointest.Pin
	fn func(gpioin.Edge)
}

func (p *latePin) Subscribe(l *loop.Loop, fn func(gpioin.Edge)) func() {
	p.fn = fn
	return func() { p.fn = nil }
}

// runLate is run with every edge delivered ten seconds after it happened,
// all in one batch.
func runLate(t *testing.T, opts []button.Option, steps ...gpiointest.Step) string {
	t.Helper()
	pin := &latePin{Pin: gpiointest.NewPin("btn", gpio.High)}
	b, err := button.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		start := tk.Loop().Now()
		g := loop.NewGroup(tk)
		g.Go("button", b.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := tk.Sleep(10 * time.Second); err != nil {
			return err
		}
		level := gpio.High
		for _, s := range steps {
			if s.Level != level {
				level = s.Level
				pin.fn(gpioin.Edge{Level: s.Level, Time: start.Add(s.At)})
			}
		}
		if err := tk.Sleep(5 * time.Second); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	return events(w, b)
}

func TestGestures(t *testing.T) {
	sup := []button.Option{button.Suppress()}
	for _, tc := range []struct {
		name    string
		opts    []button.Option
		bounce  int
		presses []press
		want    string
	}{
		{"single click", nil, 0, []press{{0, 200}},
			"press@0s release@200ms"},
		{"single click, suppress: release when the double-click window closes", sup, 0, []press{{0, 200}},
			"press@0s release@400ms"},
		{"single click, suppress, no double-click detection: release at once",
			[]button.Option{button.Suppress(), button.WithDoubleClick(0)}, 0, []press{{0, 200}},
			"press@0s release@200ms"},
		{"double click", nil, 0, []press{{0, 100}, {250, 350}},
			"press@0s release@100ms press@250ms double@250ms release@350ms"},
		{"double click, suppress", sup, 0, []press{{0, 100}, {250, 350}},
			"press@0s press@250ms double@250ms"},
		{"long press fires while held", nil, 0, []press{{0, 1500}},
			"press@0s long@1s release@1.5s"},
		{"long press, suppress", sup, 0, []press{{0, 1500}},
			"press@0s long@1s"},
		{"held past the double-click window, short of long, suppress: release at once", sup, 0, []press{{0, 600}},
			"press@0s release@600ms"},
		{"released just under the long-press time", nil, 0, []press{{0, 999}},
			"press@0s release@999ms"},
		{"released just over the long-press time", nil, 0, []press{{0, 1001}},
			"press@0s long@1s release@1.001s"},
		{"second press just inside the double-click window", nil, 0, []press{{0, 100}, {399, 450}},
			"press@0s release@100ms press@399ms double@399ms release@450ms"},
		{"second press just outside the double-click window", nil, 0, []press{{0, 100}, {401, 500}},
			"press@0s release@100ms press@401ms release@500ms"},
		{"second press just outside the window, suppress: two clicks", sup, 0, []press{{0, 100}, {401, 500}},
			"press@0s release@400ms press@401ms release@801ms"},
		{"press shorter than the debounce time: release when quiet", nil, 0, []press{{0, 30}},
			"press@0s release@80ms"},
		{"press just longer than the debounce time", nil, 0, []press{{0, 51}},
			"press@0s release@51ms"},
		{"bounce storm on every edge of a click", nil, 10, []press{{0, 200}},
			"press@0s release@200ms"},
		{"bounce storm on every edge of a double click, suppress", sup, 10, []press{{0, 100}, {250, 350}},
			"press@0s press@250ms double@250ms"},
		{"bounce storm on a long press, suppress", sup, 20, []press{{0, 1500}},
			"press@0s long@1s"},
		{"double click then held: no long press (V3)", nil, 0, []press{{0, 100}, {250, 2000}},
			"press@0s release@100ms press@250ms double@250ms release@2s"},
		{"triple click: the third press starts a new pair", nil, 0, []press{{0, 100}, {250, 350}, {500, 600}},
			"press@0s release@100ms press@250ms double@250ms release@350ms press@500ms release@600ms"},
		{"triple click, suppress", sup, 0, []press{{0, 100}, {250, 350}, {500, 600}},
			"press@0s press@250ms double@250ms press@500ms release@900ms"},
		{"long press shorter than the double-click time, suppress: no release after it (seed bug fixed)",
			[]button.Option{button.Suppress(), button.WithLongPress(300 * time.Millisecond)}, 0, []press{{0, 350}},
			"press@0s long@300ms"},
		{"no long-press detection", []button.Option{button.WithLongPress(0)}, 0, []press{{0, 5000}},
			"press@0s release@5s"},
		{"no debounce: every change counts", []button.Option{button.WithDebounce(0), button.WithDoubleClick(0)}, 0, []press{{0, 1}, {2, 3}},
			"press@0s release@1ms press@2ms release@3ms"},
		{"custom timings", []button.Option{button.WithLongPress(2 * time.Second), button.WithDoubleClick(time.Second), button.WithDebounce(10 * time.Millisecond)},
			0, []press{{0, 20}, {900, 2950}},
			"press@0s release@20ms press@900ms double@900ms release@2.95s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := script(tc.bounce, tc.presses...)
			if got := run(t, tc.opts, gpio.High, 2*time.Second, steps...); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			// The same edges reaching the loop ten seconds late, in one
			// batch: the machine goes by the stamps, so nothing changes.
			if got := runLate(t, tc.opts, steps...); got != tc.want {
				t.Fatalf("delivered late:\ngot  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestActiveHigh(t *testing.T) {
	steps := []gpiointest.Step{{At: ms(100), Level: gpio.High}, {At: ms(300), Level: gpio.Low}}
	got := run(t, []button.Option{button.ActiveHigh()}, gpio.Low, time.Second, steps...)
	if want := "press@100ms release@300ms"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// A button held when Run starts is pressed, with no Press, and its release
// is not reported either.
func TestHeldAtStart(t *testing.T) {
	steps := []gpiointest.Step{{At: ms(100), Level: gpio.High}, {At: ms(500), Level: gpio.Low}, {At: ms(600), Level: gpio.High}}
	got := run(t, nil, gpio.Low, time.Second, steps...)
	if want := "press@500ms release@600ms"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestCallbackQueueAndState(t *testing.T) {
	pin := gpiointest.NewPin("btn", gpio.High)
	var fromCallback []button.Kind
	b, err := button.New(pin, button.WithQueueSize(2), button.WithDoubleClick(0),
		button.OnEvent(func(e button.Event) { fromCallback = append(fromCallback, e.Kind) }))
	if err != nil {
		t.Fatal(err)
	}
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("button", b.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		if b.Pressed() {
			t.Error("pressed before any press")
		}
		if err := pin.Play(tk, gpiointest.Step{At: 0, Level: gpio.Low}); err != nil {
			return err
		}
		if !b.Pressed() {
			t.Error("not pressed while held")
		}
		if err := pin.Play(tk,
			gpiointest.Step{At: ms(100), Level: gpio.High}, gpiointest.Step{At: ms(200), Level: gpio.Low},
			gpiointest.Step{At: ms(300), Level: gpio.High}, gpiointest.Step{At: ms(400), Level: gpio.Low},
			gpiointest.Step{At: ms(500), Level: gpio.High},
		); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	// Six events (press, release ×3), a queue of two: the four oldest dropped.
	if got := fmt.Sprint(fromCallback); got != "[press release press release press release]" {
		t.Fatalf("callback saw %s", got)
	}
	if b.Stats().Dropped != 4 || b.Events().Len() != 2 {
		t.Fatalf("dropped %d, queued %d; want 4 and 2", b.Stats().Dropped, b.Events().Len())
	}
}

func TestBadOptions(t *testing.T) {
	pin := gpiointest.NewPin("btn", gpio.High)
	for _, tc := range []struct {
		opt  button.Option
		want string
	}{
		{button.WithDebounce(-1), "WithDebounce(-1ns)"},
		{button.WithLongPress(-time.Second), "WithLongPress(-1s)"},
		{button.WithDoubleClick(-time.Second), "WithDoubleClick(-1s)"},
		{button.WithQueueSize(0), "WithQueueSize(0)"},
		{button.WithInput(gpioin.WithPollPeriod(0)), "WithPollPeriod(0s)"},
	} {
		if _, err := button.New(pin, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error containing %q", err, tc.want)
		}
	}
	if _, err := button.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
}

// Polling (a pin without edge detection) gives the same gestures, at the
// first poll after each change.
func TestPolledButton(t *testing.T) {
	opts := []button.Option{button.WithInput(gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(5*time.Millisecond))}
	got := run(t, opts, gpio.High, 2*time.Second, script(3, press{2, 1201})...)
	if want := "press@5ms long@1.005s release@1.205s"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Run ends with its task and leaves no timer behind: a long press in
// progress does not fire after Run returned.
func TestNoEventsAfterRun(t *testing.T) {
	pin := gpiointest.NewPin("btn", gpio.High)
	b, err := button.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		err := loop.WaitFor(tk, 500*time.Millisecond, func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("button", b.Run)
			if err := tk.Yield(); err != nil {
				return err
			}
			pin.Set(gpio.Low)
			return g.Wait(tk)
		})
		if !errors.Is(err, loop.ErrTimeout) {
			return err
		}
		return tk.Sleep(2 * time.Second)
	})
	if n := b.Events().Len(); n != 1 {
		t.Fatalf("%d events, want the press only", n)
	}
}

// Every bad option is reported at once, with a nil pin.
func TestOptionErrorsTogether(t *testing.T) {
	_, err := button.New(nil, button.WithDebounce(-1), button.WithQueueSize(0))
	want := "button: New: pin is nil\nbutton: WithDebounce(-1ns): must not be negative\nbutton: WithQueueSize(0): must be at least 1"
	if err == nil || err.Error() != want {
		t.Errorf("New: %v\nwant %s", err, want)
	}
}

// Run refuses to run twice at once, and runs again after it returned (a
// supervisor's restart); a subscriber gets the events since it
// subscribed, as the button's own queue does.
func TestRunAgainAndSubscribe(t *testing.T) {
	pin := gpiointest.NewPin("btn", gpio.High)
	b, err := button.New(pin, button.WithDoubleClick(0), button.WithLongPress(0))
	if err != nil {
		t.Fatal(err)
	}
	var second error
	var sub *primitives.Queue[button.Event]
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		for round := range 2 {
			g := loop.NewGroup(tk)
			g.Go("button", b.Run)
			if round == 0 {
				g.Go("again", func(tk *loop.Task) error { second = b.Run(tk); return nil })
			} else {
				sub = b.Subscribe(4)
			}
			if err := pin.Play(tk, gpiointest.Step{At: ms(10), Level: gpio.Low}, gpiointest.Step{At: ms(200), Level: gpio.High}); err != nil {
				return err
			}
			if err := g.Stop(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(second, button.ErrRunning) {
		t.Errorf("a second Run at once: %v, want ErrRunning", second)
	}
	if n, s := b.Events().Len(), sub.Len(); n != 4 || s != 2 || b.Stats().Events != 4 {
		t.Errorf("own queue %d, subscriber %d, stats %+v; want 4, 2 (the second run's), 4 events", n, s, b.Stats())
	}
}

// Taking an event is a checkpoint: a cancelled consumer gets its
// cancellation, and the event stays for the next one.
func TestEventsGetCheckpoint(t *testing.T) {
	pin := gpiointest.NewPin("btn", gpio.High)
	b, err := button.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	var cancelled error
	var next button.Event
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("button", b.Run)
		if err := pin.Play(tk, gpiointest.Step{Level: gpio.Low}); err != nil {
			return err
		}
		c := tk.Loop().Go("consumer", func(tk *loop.Task) error {
			tk.Cancel()
			_, err := b.Events().Get(tk)
			return err
		})
		cancelled = c.Wait(tk)
		var err error
		if next, err = b.Events().Get(tk); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	if !errors.Is(cancelled, loop.ErrCancelled) || next.Kind != button.Press {
		t.Errorf("cancelled consumer: %v; next: %v; want ErrCancelled, the press", cancelled, next)
	}
}
