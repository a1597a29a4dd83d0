package gpiointest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// Play called before anything watches the pin waits until an Input has
// configured it, then times its steps from then; steps out of order are
// refused before anything is played.
func TestPlayWaitsUntilWatched(t *testing.T) {
	pin := gpiointest.NewPin("p", gpio.High)
	in, err := gpioin.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	var seen []string
	var orderErr error
	watchedBefore := pin.Watched()
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		orderErr = pin.Play(tk, gpiointest.Step{At: time.Second, Level: gpio.Low}, gpiointest.Step{At: 0, Level: gpio.High})
		g := loop.NewGroup(tk)
		g.Go("player", func(tk *loop.Task) error {
			return pin.Play(tk, gpiointest.Step{At: 10 * time.Millisecond, Level: gpio.Low})
		})
		if err := tk.Sleep(time.Second); err != nil { // nothing watches yet
			return err
		}
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) { seen = append(seen, fmt.Sprintf("%v@%v", e.Level, vc.Elapsed())) })
		})
		if err := g.Task("player").Wait(tk); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[High@1s Low@1.01s]"; fmt.Sprint(seen) != want || watchedBefore || !pin.Watched() {
		t.Errorf("edges %v, watched before %v, after %v; want %s, false, true", seen, watchedBefore, pin.Watched(), want)
	}
	if orderErr == nil || !strings.Contains(orderErr.Error(), "step 1 at 0s comes before step 0 at 1s") {
		t.Errorf("steps out of order: %v", orderErr)
	}
}

// A pin with NoEdges refuses edge detection, as a pin without interrupts
// does; it records the pull asked for and has no PWM.
func TestNoEdgesPullAndPWM(t *testing.T) {
	pin := gpiointest.NewPin("p", gpio.Low)
	pin.NoEdges = true
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err == nil || pin.Watched() {
		t.Errorf("In with edges on a NoEdges pin: %v, watched %v", err, pin.Watched())
	}
	if err := pin.In(gpio.PullUp, gpio.NoEdge); err != nil || pin.Pull() != gpio.PullUp || !pin.Watched() {
		t.Errorf("In without edges: %v, pull %v", err, pin.Pull())
	}
	if pin.PWM(gpio.DutyHalf, 0) == nil || pin.WaitForEdge(time.Second) || pin.Number() != -1 || pin.String() != "sim:p" {
		t.Error("a simulated pin has no PWM, no edges to wait for, no number, and is named sim:p")
	}
}

// On the real clock, sleeps end late, but Play stamps each edge with its
// step's time: an NEC-like script of 562.5 µs steps arrives with exactly
// the script's spacing, however late each step was set.
func TestPlayStampsScheduledTimesOnTheRealClock(t *testing.T) {
	pin := gpiointest.NewPin("p", gpio.High)
	in, err := gpioin.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	const bit = 562500 * time.Nanosecond
	var steps []gpiointest.Step
	for i := range 20 {
		steps = append(steps, gpiointest.Step{At: time.Duration(i) * bit, Level: gpio.Level(i%2 == 1)})
	}
	var stamps []time.Time
	l := loop.New()
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) {
				if !e.Initial {
					stamps = append(stamps, e.Time)
				}
			})
		})
		if err := pin.Play(tk, steps...); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stamps) != len(steps) {
		t.Fatalf("%d edges, want %d", len(stamps), len(steps))
	}
	for i, s := range stamps {
		if got := s.Sub(stamps[0]); got != steps[i].At {
			t.Errorf("edge %d at %v after the first, want %v", i, got, steps[i].At)
		}
	}
}

// SetAt stamps the edge with the time given; the zero time is the loop's
// time now, as Set.
func TestSetAt(t *testing.T) {
	pin := gpiointest.NewPin("p", gpio.High)
	in, err := gpioin.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	var got []string
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) { got = append(got, fmt.Sprintf("%v@%v", e.Level, vc.Since(e.Time))) })
		})
		if err := pin.WaitWatched(tk); err != nil {
			return err
		}
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		pin.SetAt(gpio.Low, vc.Start().Add(300*time.Millisecond))
		pin.SetAt(gpio.High, time.Time{})
		return g.Stop(tk)
	})
	if want := "[High@0s Low@300ms High@1s]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("edges %v, %v; want %s", got, err, want)
	}
}
