package buttontest_test

import (
	"context"
	"fmt"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/button/buttontest"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A test of code that reacts to a pushbutton, with Suppress, the driver
// the agent uses: one event per gesture — release for a plain click,
// double, long. The gestures are written as text, as a demo script would
// be, and played before the button's task has even run: the player waits
// until the pin is watched.
func ExamplePlayer() {
	pin := gpiointest.NewPin("GPIO17", gpio.High)
	b, _ := button.New(pin, button.Suppress())
	gestures, err := buttontest.Parse("click, double, press 1.2s")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("button", b.Run)
		p := buttontest.Player{Pin: pin, Bounce: 2}
		if err := p.Play(t, gestures...); err != nil {
			return err
		}
		for !b.Events().Empty() {
			e, err := b.Events().Get(t)
			if err != nil {
				return err
			}
			if e.Kind != button.Press {
				fmt.Println(e.Time.Sub(loop.VirtualEpoch()), e.Kind)
			}
		}
		return g.Stop(t)
	})
	// Output:
	// 400ms release
	// 950ms double
	// 2.65s long
}
