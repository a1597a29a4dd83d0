package gpiointest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/contact"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A test of code that watches a door contact: a simulated pin stands for
// the GPIO, and a script of levels at virtual times opens the door with a
// bounce and closes it. The script may start before the driver's task
// has: Play waits until the pin is watched.
func ExamplePin_Play() {
	pin := gpiointest.NewPin("GPIO22", gpio.Low) // closed: the contact pulls it low
	door, _ := contact.New(pin)
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("door", door.Run)
		ms := time.Millisecond
		err := pin.Play(t,
			gpiointest.Step{At: 500 * ms, Level: gpio.High}, // opens…
			gpiointest.Step{At: 501 * ms, Level: gpio.Low},  // …bounces…
			gpiointest.Step{At: 502 * ms, Level: gpio.High}, // …and stays open
			gpiointest.Step{At: 3 * time.Second, Level: gpio.Low},
		)
		if err != nil {
			return err
		}
		for !door.Events().Empty() {
			e, err := door.Events().Get(t)
			if err != nil {
				return err
			}
			fmt.Println(e.Time.Sub(loop.VirtualEpoch()), e.Closed)
		}
		return g.Stop(t)
	})
	// Output:
	// 500ms false
	// 3s true
}
