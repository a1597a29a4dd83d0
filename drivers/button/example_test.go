package button_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/button/buttontest"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A button wired from a GPIO to ground. On hardware the pin comes from
// periph's host (gpioreg.ByName("GPIO17")); here a simulated pin is pressed
// (package buttontest) on a virtual clock: a click, a double-click, then a
// press held 1.5 s. Suppress keeps Release for plain clicks, reported once
// the double-click window has closed.
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
		err := buttontest.Play(t, pin, buttontest.Click(), buttontest.Double(), buttontest.Press(1500*time.Millisecond))
		if err != nil {
			return err
		}
		return g.Stop(t)
	})
	// Output:
	// 0s press
	// 400ms release
	// 700ms press
	// 950ms press
	// 950ms double
	// 1.65s press
	// 2.65s long
}

// Events marshal to JSON with lower-case kinds, for MQTT payloads.
func ExampleKind_MarshalText() {
	e := button.Event{Kind: button.DoubleClick, Time: time.Date(2026, 5, 1, 12, 0, 0, 250e6, time.UTC)}
	b, _ := json.Marshal(e)
	fmt.Println(string(b))
	// Output:
	// {"kind":"double","time":"2026-05-01T12:00:00.25Z"}
}
