package contact_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/contact"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A door contact wired from a GPIO to ground: closed reads Low. On hardware
// the pin comes from periph's host; here a simulated pin is driven by a task
// on a virtual clock. The door opens at 2 s, with 3 ms of contact bounce, and
// closes again at 5 s.
func ExampleNew() {
	pin := gpiointest.NewPin("GPIO22", gpio.Low)
	door, err := contact.New(pin)
	if err != nil {
		fmt.Println(err)
		return
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("door", door.Run)
		g.Go("alarm", func(t *loop.Task) error {
			if _, err := door.WaitOpen(t); err != nil { // returns once the door opens
				return err
			}
			fmt.Println(vc.Elapsed(), "alarm: door open")
			return nil
		})
		g.Go("log", func(t *loop.Task) error {
			for {
				e, err := door.Events().Get(t)
				if err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), "log:", map[bool]string{true: "closed", false: "opened"}[e.Closed])
			}
		})
		start, err := door.Latest().Wait(t) // the state Run reads when it starts
		if err != nil {
			return err
		}
		fmt.Println("closed at start:", start.Closed)
		ms := time.Millisecond
		if err := pin.Play(t,
			gpiointest.Step{At: 2000 * ms, Level: gpio.High}, gpiointest.Step{At: 2001 * ms, Level: gpio.Low},
			gpiointest.Step{At: 2002 * ms, Level: gpio.High}, gpiointest.Step{At: 2003 * ms, Level: gpio.Low},
			gpiointest.Step{At: 2004 * ms, Level: gpio.High},
			gpiointest.Step{At: 5000 * ms, Level: gpio.Low},
		); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// closed at start: true
	// 2s alarm: door open
	// 2s log: opened
	// 5s log: closed
}
