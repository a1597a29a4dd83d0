package nec_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// An IR receiver module's output on a GPIO. On hardware the pin comes from
// periph's host and the input layer's goroutine stamps each edge; here a
// simulated remote plays a key press and two repeat codes on a virtual clock.
func ExampleNewReceiver() {
	pin := gpioin.NewSimPin("GPIO23", gpio.High)
	r, err := nec.NewReceiver(pin)
	if err != nil {
		fmt.Println(err)
		return
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("ir", r.Run)
		g.Go("keys", func(t *loop.Task) error {
			for {
				res, err := r.Received().Get(t)
				if err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), res) // an error is a value here too
			}
		})
		if err := t.Yield(); err != nil {
			return err
		}
		press, _ := nec.Encode(nec.Frame{Address: 0x04, Command: 0x08})
		held, _ := nec.Encode(nec.Frame{Repeat: true})
		for i, burst := range [][]time.Duration{press, held, held} {
			start := time.Duration(i) * nec.RepeatPeriod
			for j, e := range burst { // the module's output is low during a mark
				if err := t.Sleep(start + e - vc.Elapsed()); err != nil {
					return err
				}
				pin.Set(gpio.Level(j%2 == 1))
			}
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 73ms address 0x04 command 0x08
	// 181ms repeat of address 0x04 command 0x08
	// 289ms repeat of address 0x04 command 0x08
}
