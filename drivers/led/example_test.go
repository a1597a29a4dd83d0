package led_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/led"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// An LED from a GPIO to ground. On hardware the pin comes from periph's host;
// here a simulated pin stands in, and a task watching it prints each change
// on a virtual clock. The LED blinks three times in the foreground, then a
// heartbeat plays in the background until the program ends.
func ExampleNew() {
	pin := gpiointest.NewPin("GPIO26", gpio.Low)
	d, err := led.New(pin)
	if err != nil {
		fmt.Println(err)
		return
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		cancel := pin.Subscribe(t.Loop(), func(e gpioin.Edge) { fmt.Println(vc.Elapsed(), e.Level) })
		defer cancel()
		if err := d.Blink(t, led.Blinking(100*time.Millisecond, 200*time.Millisecond, 3)); err != nil {
			return err
		}
		g := loop.NewGroup(t)
		g.Go("led", d.Run)
		if err := d.Play(led.Heartbeat(time.Second)); err != nil {
			return err
		}
		if err := t.Sleep(1100 * time.Millisecond); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 0s High
	// 100ms Low
	// 300ms High
	// 400ms Low
	// 600ms High
	// 700ms Low
	// 900ms High
	// 970ms Low
	// 1.15s High
	// 1.22s Low
	// 1.9s High
	// 1.97s Low
}
