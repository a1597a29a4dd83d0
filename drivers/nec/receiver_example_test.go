package nec_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/drivers/nec/nectest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// An IR receiver module's output on a GPIO. On hardware the pin comes from
// periph's host and the input layer's goroutine stamps each edge; here a
// simulated remote (package nectest) presses a key, holds another for a
// third of a second, and sends a burst too short to be anything, on a
// virtual clock.
func ExampleNew() {
	pin := gpiointest.NewPin("GPIO23", gpio.High)
	r, err := nec.New(pin)
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
				res, err := r.Events().Get(t)
				if err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), res) // an error is a value here too
			}
		})
		remote := nectest.NewRemote(pin)
		remote.Jitter = 0.1 // ±10 %, as cheap remotes do
		if err := remote.Send(t, 0x04, 0x08); err != nil {
			return err
		}
		if err := remote.Hold(t, 0x04, 0x09, 300*time.Millisecond); err != nil {
			return err
		}
		if err := remote.Play(t, []time.Duration{0, 2 * time.Millisecond}); err != nil {
			return err
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 73ms address 0x04 command 0x08
	// 181ms address 0x04 command 0x09
	// 289ms repeat of address 0x04 command 0x09
	// 397ms repeat of address 0x04 command 0x09
	// 505ms nec: bad start: 2 edges, want at least 3 (leader mark and space)
}
