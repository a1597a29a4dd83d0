package uarttest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
)

// A test of code that talks to a serial meter, without the meter: a
// scripted peer answers "READ" with a value 150 ms later, through a real
// uart.Stream, on a virtual clock. The meter announces itself when it is
// plugged in, which the peer holds until the stream has opened it.
func ExamplePeer() {
	meter := uarttest.NewPeer()
	meter.Say("METER v1.2")
	meter.On("READ", uarttest.After(150*time.Millisecond, "VALUE 42.7"))

	s, _ := uart.New("/dev/ttyUSB0", uart.WithOpener(meter.Opener()))
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("uart", s.Run)
		hello, err := s.ReadLine(t)
		if err != nil {
			return err
		}
		fmt.Printf("%s at %v\n", hello, vc.Elapsed())
		if err := s.Write(t, []byte("READ\n")); err != nil {
			return err
		}
		value, err := s.ReadLine(t)
		if err != nil {
			return err
		}
		fmt.Printf("%s at %v\n", value, vc.Elapsed())
		return g.Stop(t)
	})
	fmt.Println("the meter got", meter.Received())
	// Output:
	// METER v1.2 at 0s
	// VALUE 42.7 at 150ms
	// the meter got [READ]
}
