package inputdrv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runInput runs in until its first edge, and returns the pin's pull and
// the input's mode then.
func runInput(t *testing.T, pin *gpiointest.Pin, in *gpioin.Input) (gpio.Pull, gpioin.Mode) {
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
		pin := gpiointest.NewPin("p", gpio.High)
		in, err := inputdrv.NewInput(pin, tc.activeHigh, tc.user, tc.forced...)
		if err != nil {
			t.Fatal(err)
		}
		pull, mode := runInput(t, pin, in)
		if got := fmt.Sprintf("%v %v", pull, mode); got != tc.want {
			t.Errorf("activeHigh %v: %s, want %s", tc.activeHigh, got, tc.want)
		}
	}
	if _, err := inputdrv.NewInput(gpiointest.NewPin("p", gpio.High), false, []gpioin.Option{gpioin.WithPollPeriod(0)}); err == nil ||
		!strings.Contains(err.Error(), "WithPollPeriod(0s)") {
		t.Errorf("a bad user option: %v", err)
	}
}

// Build reports a nil pin together with the options' errors, and makes
// the outlet with the configured size.
func TestBuild(t *testing.T) {
	c := inputdrv.Config[int]{QueueSize: 3}
	_, _, err := inputdrv.Build("drv", nil, &c, errors.New("drv: WithX(1): bad"))
	if err == nil || err.Error() != "drv: New: pin is nil\ndrv: WithX(1): bad" {
		t.Errorf("Build(nil pin, option error) = %v", err)
	}
	in, out, err := inputdrv.Build("drv", gpiointest.NewPin("p", gpio.High), &c, nil)
	if err != nil || in == nil || out.Events().Cap() != 3 {
		t.Errorf("Build = %v, %v, %v", in, out, err)
	}
	_, _, err = inputdrv.Build("drv", gpiointest.NewPin("p", gpio.High), &inputdrv.Config[int]{QueueSize: 1, Input: []gpioin.Option{gpioin.WithPollPeriod(0)}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "drv: gpioin: WithPollPeriod(0s)") {
		t.Errorf("Build with a bad input option: %v", err)
	}
}
