package button_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A button wired from a GPIO to ground. On hardware the pin comes from
// periph's host (gpioreg.ByName("GPIO17")); here a simulated pin is pressed
// by a task on a virtual clock: a click, a double-click, then a long press.
// Suppress keeps Release for plain clicks, reported once the double
// window has closed.
func ExampleNew() {
	pin := gpiointest.NewPin("GPIO17", gpio.High)
	b, err := button.New(pin, button.Suppress())
	if err != nil {
		fmt.Println(err)
		return
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("button", b.Run)
		g.Go("consumer", func(t *loop.Task) error {
			for {
				e, err := b.Events().Get(t)
				if err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), e.Kind)
			}
		})
		if err := t.Yield(); err != nil {
			return err
		}
		ms := time.Millisecond
		if err := pin.Play(t,
			gpiointest.Step{At: 0, Level: gpio.Low}, gpiointest.Step{At: 120 * ms, Level: gpio.High}, // click
			gpiointest.Step{At: 1000 * ms, Level: gpio.Low}, gpiointest.Step{At: 1100 * ms, Level: gpio.High}, // double
			gpiointest.Step{At: 1250 * ms, Level: gpio.Low}, gpiointest.Step{At: 1350 * ms, Level: gpio.High},
			gpiointest.Step{At: 3000 * ms, Level: gpio.Low}, gpiointest.Step{At: 4500 * ms, Level: gpio.High}, // long press
		); err != nil {
			return err
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 0s press
	// 400ms release
	// 1s press
	// 1.25s press
	// 1.25s double
	// 3s press
	// 4s long
}
