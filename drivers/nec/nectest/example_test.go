package nectest_test

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

// A test of code that reacts to a remote: a simulated remote holds a key
// for a quarter of a second, with ±10 % timing jitter, on the pin of the
// receiver the code uses. Sending may start before the receiver's task
// has run: the remote waits until the pin is watched.
func ExampleRemote_Hold() {
	pin := gpiointest.NewPin("GPIO23", gpio.High)
	r, _ := nec.New(pin)
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("ir", r.Run)
		remote := &nectest.Remote{Pin: pin, Jitter: 0.1}
		if err := remote.Hold(t, 0x20, 0x45, 250*time.Millisecond); err != nil {
			return err
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		for !r.Events().Empty() {
			res, err := r.Events().Get(t)
			if err != nil {
				return err
			}
			fmt.Println(res.Time.Sub(loop.VirtualEpoch()), res)
		}
		return g.Stop(t)
	})
	// Output:
	// 0s address 0x20 command 0x45
	// 108ms repeat of address 0x20 command 0x45
	// 216ms repeat of address 0x20 command 0x45
}
