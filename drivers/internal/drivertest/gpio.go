package drivertest

import (
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// Play runs run — a driver's Run, or an Input's — as the task name in a
// group of tk's, plays steps on pin once it is watched, waits tail more,
// and stops the task. It returns the first error of these steps.
func Play(tk *loop.Task, name string, run loop.TaskFunc, pin *gpiointest.Pin, tail time.Duration, steps ...gpiointest.Step) error {
	g := loop.NewGroup(tk)
	g.Go(name, run)
	if err := pin.Play(tk, steps...); err != nil {
		return err
	}
	if err := tk.Sleep(tail); err != nil {
		return err
	}
	return g.Stop(tk)
}

// Bounce returns n+1 level changes 1 ms apart from `from`, alternating and
// ending at end: a storm of 1 ms bounce pulses.
func Bounce(from time.Duration, n int, end gpio.Level) []gpiointest.Step {
	steps := make([]gpiointest.Step, n+1)
	for i := range steps {
		lv := end
		if (n-i)%2 == 1 {
			lv = !end
		}
		steps[i] = gpiointest.Step{At: from + time.Duration(i)*time.Millisecond, Level: lv}
	}
	return steps
}
