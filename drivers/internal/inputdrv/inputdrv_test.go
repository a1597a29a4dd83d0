package inputdrv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runInput runs in until its first edge, and returns the pin's pull and
// the input's mode then.
func runInput(t *testing.T, pin *gpioin.SimPin, in *gpioin.Input) (gpio.Pull, gpioin.Mode) {
	t.Helper()
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error { return in.Run(tk, func(gpioin.Edge) {}) })
		if err := tk.Yield(); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pin.Pull(), in.Mode()
}

// The pull follows the wiring unless the user sets one; forced options
// come last, so they win over the user's.
func TestNewInput(t *testing.T) {
	for _, tc := range []struct {
		activeHigh bool
		user       []gpioin.Option
		forced     []gpioin.Option
		want       string
	}{
		{false, nil, nil, "PullUp on-loop"},
		{true, nil, nil, "PullDown on-loop"},
		{false, []gpioin.Option{gpioin.WithPull(gpio.Float)}, nil, "Float on-loop"},
		{false, []gpioin.Option{gpioin.WithMode(gpioin.Polling)}, []gpioin.Option{gpioin.WithMode(gpioin.Edges)}, "PullUp on-loop"},
		{true, nil, []gpioin.Option{gpioin.WithMode(gpioin.Polling)}, "PullDown polling"},
	} {
		pin := gpioin.NewSimPin("p", gpio.High)
		in, err := inputdrv.NewInput(pin, tc.activeHigh, tc.user, tc.forced...)
		if err != nil {
			t.Fatal(err)
		}
		pull, mode := runInput(t, pin, in)
		if got := fmt.Sprintf("%v %v", pull, mode); got != tc.want {
			t.Errorf("activeHigh %v: %s, want %s", tc.activeHigh, got, tc.want)
		}
	}
	if _, err := inputdrv.NewInput(gpioin.NewSimPin("p", gpio.High), false, []gpioin.Option{gpioin.WithPollPeriod(0)}); err == nil ||
		!strings.Contains(err.Error(), "WithPollPeriod(0s)") {
		t.Errorf("a bad user option: %v", err)
	}
}

// Send calls the callback before queueing; a full queue drops its oldest
// and counts it, and so does a closed one; Notify and Queue do one half
// each.
func TestOutbox(t *testing.T) {
	var log []string
	var o *inputdrv.Outbox[int]
	o = inputdrv.NewOutbox(2, func(e int) { log = append(log, fmt.Sprintf("cb %d (queued %d)", e, o.Events().Len())) })
	for e := range 3 {
		o.Send(e)
	}
	o.Notify(10)
	o.Queue(11)
	var queued []int
	for e, err := o.Events().TryGet(); err == nil; e, err = o.Events().TryGet() {
		queued = append(queued, e)
	}
	if want := "[cb 0 (queued 0) cb 1 (queued 1) cb 2 (queued 2) cb 10 (queued 2)]"; fmt.Sprint(log) != want {
		t.Errorf("callback log %v, want %s", log, want)
	}
	if fmt.Sprint(queued) != "[2 11]" || o.Dropped() != 2 {
		t.Errorf("queued %v, dropped %d; want [2 11], 2", queued, o.Dropped())
	}
	o.Events().Close()
	o.Send(12)
	if o.Dropped() != 3 {
		t.Errorf("dropped %d after a send to a closed queue, want 3", o.Dropped())
	}

	silent := inputdrv.NewOutbox[string](1, nil)
	silent.Send("a")
	if e, err := silent.Events().TryGet(); err != nil || e != "a" || silent.Dropped() != 0 {
		t.Errorf("without a callback: %q, %v, dropped %d", e, err, silent.Dropped())
	}
}
