package gpioin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// An Input hands the edges of a pin to a function on the loop. On hardware
// the pin comes from periph's host drivers and a goroutine waits for its
// edges; here a SimPin is driven from a task on a virtual clock, so the
// times printed are exact.
func ExampleInput() {
	pin := gpiointest.NewPin("GPIO17", gpio.High)
	in, err := gpioin.New(pin, gpioin.WithPull(gpio.PullUp))
	if err != nil {
		fmt.Println(err)
		return
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("input", func(t *loop.Task) error {
			return in.Run(t, func(e gpioin.Edge) {
				fmt.Println(vc.Elapsed(), e.Level, e.Initial)
			})
		})
		if err := pin.Play(t,
			gpiointest.Step{At: 100 * time.Millisecond, Level: gpio.Low},
			gpiointest.Step{At: 350 * time.Millisecond, Level: gpio.High},
		); err != nil {
			return err
		}
		fmt.Println("mode:", in.Mode())
		return g.Stop(t)
	})
	// Output:
	// 0s High true
	// 100ms Low false
	// 350ms High false
	// mode: on-loop
}

// A Debouncer between an Input and a driver: a press that bounces for 5 ms
// is reported once, at its first edge.
func ExampleDebouncer() {
	pin := gpiointest.NewPin("GPIO27", gpio.High)
	in, _ := gpioin.New(pin)
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		db := gpioin.NewDebouncer(t.Loop(), 50*time.Millisecond, func(e gpioin.Edge) {
			if !e.Initial {
				fmt.Println(vc.Elapsed(), e.Level)
			}
		})
		defer db.Stop()
		g := loop.NewGroup(t)
		g.Go("input", func(t *loop.Task) error { return in.Run(t, db.Edge) })
		var script []gpiointest.Step
		for i := range 5 { // Low, High, Low, High, Low: 1 ms apart from 10 ms
			script = append(script, gpiointest.Step{At: time.Duration(10+i) * time.Millisecond, Level: gpio.Level(i%2 == 1)})
		}
		script = append(script, gpiointest.Step{At: 500 * time.Millisecond, Level: gpio.High})
		if err := pin.Play(t, script...); err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 10ms Low
	// 500ms High
}
