package primitives_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// virtual returns a loop on a virtual clock: the examples' seconds pass
// instantly and print the same every time.
func virtual() (*loop.Loop, *loop.VirtualClock) {
	vc := loop.NewVirtualClock()
	return loop.New(loop.WithClock(vc)), vc
}

// A producer and a consumer share a bounded queue; Close lets the consumer
// end cleanly.
func ExampleQueue() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		q := primitives.NewQueue[string](2)
		g := loop.NewGroup(t)
		g.Go("producer", func(t *loop.Task) error {
			for _, cmd := range []string{"on", "off", "on"} {
				if err := q.Put(t, cmd); err != nil {
					return err
				}
			}
			q.Close()
			return nil
		})
		g.Go("consumer", func(t *loop.Task) error {
			for {
				cmd, err := q.Get(t)
				if errors.Is(err, primitives.ErrClosed) {
					return nil
				}
				if err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), cmd)
				if err := t.Sleep(time.Second); err != nil { // a slow relay
					return err
				}
			}
		})
		return g.Wait(t)
	})
	// Output:
	// 0s on
	// 1s off
	// 2s on
}

// An event carries a value to every task waiting for it.
func ExampleEvent() {
	l, _ := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		var reading primitives.Event[float64]
		g := loop.NewGroup(t)
		for _, name := range []string{"display", "mqtt"} {
			g.Go(name, func(t *loop.Task) error {
				v, err := reading.Wait(t)
				fmt.Println(name, v)
				return err
			})
		}
		l.CallLater(time.Second, func() { reading.Set(21.5) })
		return g.Wait(t)
	})
	// Output:
	// display 21.5
	// mqtt 21.5
}

// A lock serialises use of a shared resource, such as an I2C bus or a
// modem mid-exchange.
func ExampleLock() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		var bus primitives.Lock
		g := loop.NewGroup(t)
		for _, sensor := range []string{"htu21d", "adxl345"} {
			g.Go(sensor, func(t *loop.Task) error {
				return bus.With(t, func(t *loop.Task) error {
					fmt.Println(vc.Elapsed(), sensor, "has the bus")
					return t.Sleep(60 * time.Millisecond) // a measurement
				})
			})
		}
		return g.Wait(t)
	})
	// Output:
	// 0s htu21d has the bus
	// 60ms adxl345 has the bus
}

// A barrier makes tasks meet, running an action once per round.
func ExampleBarrier() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		b := primitives.NewBarrier(2, func() { fmt.Println(vc.Elapsed(), "both ready") })
		g := loop.NewGroup(t)
		for _, d := range []time.Duration{time.Second, 3 * time.Second} {
			g.Go(d.String(), func(t *loop.Task) error {
				if err := t.Sleep(d); err != nil {
					return err
				}
				return b.Wait(t)
			})
		}
		return g.Wait(t)
	})
	// Output: 3s both ready
}

// A semaphore limits how many tasks use a resource at once.
func ExampleSemaphore() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		uploads := primitives.NewSemaphore(2)
		g := loop.NewGroup(t)
		for i := range 3 {
			g.Go(fmt.Sprint("upload", i), func(t *loop.Task) error {
				return uploads.With(t, func(t *loop.Task) error {
					fmt.Println(vc.Elapsed(), "upload", i)
					return t.Sleep(time.Second)
				})
			})
		}
		return g.Wait(t)
	})
	// Output:
	// 0s upload 0
	// 0s upload 1
	// 1s upload 2
}

// A condition lets tasks wait, holding a lock, until the state it guards
// is what they need.
func ExampleCondition() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		c := primitives.NewCondition(nil)
		level := 0
		waiter := l.Go("waiter", func(t *loop.Task) error {
			return c.L.With(t, func(t *loop.Task) error {
				if err := c.WaitFor(t, func() bool { return level >= 3 }); err != nil {
					return err
				}
				fmt.Println(vc.Elapsed(), "level", level)
				return nil
			})
		})
		for range 3 {
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			if err := c.L.With(t, func(t *loop.Task) error { level++; _, err := c.NotifyAll(); return err }); err != nil {
				return err
			}
		}
		return waiter.Wait(t)
	})
	// Output: 3s level 3
}

// A Delay retriggered by activity fires once things have been quiet for
// its duration: here, the end of a burst of serial input.
func ExampleDelay() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		quiet := primitives.NewDelay(l, 300*time.Millisecond, func() { fmt.Println(vc.Elapsed(), "quiet") })
		for _, gap := range []time.Duration{0, 100, 200, 250} {
			if err := t.Sleep(gap * time.Millisecond); err != nil {
				return err
			}
			quiet.Trigger(0) // a line arrived
		}
		return quiet.Wait(t)
	})
	// Output: 850ms quiet
}

// Poll watches a value that cannot interrupt, reporting changes only.
func ExamplePoll() {
	l, vc := virtual()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		pin := false
		l.CallLater(120*time.Millisecond, func() { pin = true })
		return loop.WaitFor(t, 300*time.Millisecond, func(t *loop.Task) error {
			err := primitives.Poll(t, 50*time.Millisecond,
				func() (bool, error) { return pin, nil },
				func(v bool) { fmt.Println(vc.Elapsed(), "pin", v) })
			if errors.Is(err, loop.ErrTimeout) {
				return nil
			}
			return err
		})
	})
	// Output: 150ms pin true
}
