package loop_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// A loop runs tasks one at a time; each runs until it awaits. The virtual
// clock makes this example's two seconds pass instantly. Timers due at the
// same time fire in the order they were set.
func ExampleLoop_Run() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	err := l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("blink", func(t *loop.Task) error {
			for i := range 4 {
				fmt.Printf("%v led %v\n", vc.Elapsed(), i%2 == 0)
				if err := t.Sleep(500 * time.Millisecond); err != nil {
					return err
				}
			}
			return nil
		})
		g.Go("report", func(t *loop.Task) error {
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			fmt.Printf("%v report\n", vc.Elapsed())
			return nil
		})
		return g.Wait(t)
	})
	fmt.Println("done:", err, vc.Elapsed())
	// Output:
	// 0s led true
	// 500ms led false
	// 1s report
	// 1s led true
	// 1.5s led false
	// done: <nil> 2s
}

// Other goroutines — an MQTT callback, a GPIO edge waiter — hand work to
// the loop with Post, never touching loop state themselves.
func ExampleLoop_Post() {
	l := loop.New()
	var arrived loop.WaitQueue
	var messages []string
	err := l.Run(context.Background(), func(t *loop.Task) error {
		go func() { // a foreign goroutine
			for _, m := range []string{"on", "off"} {
				_ = l.Post(func() {
					messages = append(messages, m)
					arrived.WakeAll()
				})
			}
		}()
		for len(messages) < 2 {
			if err := arrived.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	fmt.Println(messages, err)
	// Output: [on off] <nil>
}

// WaitFor bounds any awaits with a deadline, interrupting them the moment
// it passes.
func ExampleWaitFor() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		err := loop.WaitFor(t, 2*time.Second, func(t *loop.Task) error {
			return t.Sleep(time.Hour) // a sensor that never answers
		})
		fmt.Println(errors.Is(err, loop.ErrTimeout), vc.Elapsed())
		return nil
	})
	// Output: true 2s
}

// Cancelling a task interrupts its await at once; Shield lets it still
// clean up with awaits, such as publishing "offline".
func ExampleShield() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		worker := l.Go("worker", func(t *loop.Task) error {
			err := t.Sleep(time.Hour)
			return errors.Join(err, loop.Shield(t, func(t *loop.Task) error {
				return loop.WaitFor(t, time.Second, func(t *loop.Task) error {
					if err := t.Sleep(100 * time.Millisecond); err != nil { // publishing
						return err
					}
					fmt.Println("offline published at", vc.Elapsed())
					return nil
				})
			}))
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		worker.Cancel()
		fmt.Println(worker.Wait(t))
		return nil
	})
	// Output:
	// offline published at 1.1s
	// loop: task cancelled
}

// A group's children end before the group's Stop returns, cleanup included:
// the seed's cancel_all, and NamedTask's lookup by name.
func ExampleNewGroup() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		for _, name := range []string{"pump", "fan"} {
			g.Go(name, func(t *loop.Task) error {
				err := t.Sleep(time.Hour)
				fmt.Println(name, "stopping:", err)
				return err
			})
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		fmt.Println("fan running:", g.Task("fan") != nil)
		fmt.Println("stop:", g.Stop(t), "running:", g.Len())
		return nil
	})
	// Output:
	// fan running: true
	// pump stopping: loop: task cancelled
	// fan stopping: loop: task cancelled
	// stop: <nil> running: 0
}

// Gather runs jobs concurrently and returns every result, each with its own
// error; a job may have its own timeout.
func ExampleGather() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		read := func(d time.Duration, v float64) func(*loop.Task) (float64, error) {
			return func(t *loop.Task) (float64, error) { return v, t.Sleep(d) }
		}
		res, err := loop.Gather(t,
			loop.Job[float64]{Name: "temperature", Fn: read(60*time.Millisecond, 21.5)},
			loop.Job[float64]{Name: "humidity", Fn: read(120*time.Millisecond, 48)},
			loop.Job[float64]{Name: "stuck", Fn: read(time.Hour, 0), Timeout: time.Second},
		)
		fmt.Println(res, err, vc.Elapsed())
		return nil
	})
	// Output: [{21.5 <nil>} {48 <nil>} {0 loop: timed out after 1s}] <nil> 1s
}

// Offload runs a blocking call on another goroutine and awaits it; the loop
// goes on meanwhile.
func ExampleOffload() {
	l := loop.New()
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		n, err := loop.Offload(t, func(ctx context.Context) (int, error) {
			return len("a blocking read"), nil // os.ReadFile, f.Sync(), net.LookupHost …
		})
		fmt.Println(n, err)
		return nil
	})
	// Output: 15 <nil>
}

// A WaitQueue is how awaitable types are built: state, plus tasks parked
// until the state lets them go on. Here, a one-shot latch.
func ExampleWaitQueue() {
	type latch struct {
		open    bool
		waiting loop.WaitQueue
	}
	wait := func(t *loop.Task, lt *latch) error {
		for !lt.open {
			if err := lt.waiting.Wait(t); err != nil {
				return err
			}
		}
		return nil
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	_ = l.Run(context.Background(), func(t *loop.Task) error {
		lt := &latch{}
		l.CallLater(3*time.Second, func() { lt.open = true; lt.waiting.WakeAll() })
		err := wait(t, lt)
		fmt.Println("latch open at", vc.Elapsed(), err)
		return nil
	})
	// Output: latch open at 3s <nil>
}
