// Package foreign holds check 4's cases: loop state touched from
// goroutines that are not the loop's.
package foreign

import (
	"context"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"golang.org/x/sync/errgroup"
)

type bridge struct {
	l   *loop.Loop
	in  *loop.Inlet
	q   *primitives.Queue[string]
	ev  *primitives.Event
	wq  *loop.WaitQueue
	g   *loop.Group
	tm  *loop.Timer
	fut *loop.Future[int]
	w   struct{ task *loop.Task }
}

func (b *bridge) racy(in <-chan string) {
	go func() {
		for m := range in {
			b.q.TryPut(m) // want `\(\*primitives.Queue\).TryPut touches loop state from a go statement, which runs on a goroutine of its own; only Loop.Post and Inlet.TryPost are safe there`
		}
		b.ev.Set()                                                                // want `\(\*primitives.Event\).Set touches loop state from a go statement`
		_ = b.ev.IsSet()                                                          // want `\(\*primitives.Event\).IsSet touches loop state`
		b.l.Go("x", func(t *loop.Task) error { return nil })                      // want `\(\*loop.Loop\).Go touches loop state from a go statement`
		b.l.CallSoon(func() {})                                                   // want `\(\*loop.Loop\).CallSoon touches loop state`
		b.l.CallLater(time.Second, func() {})                                     // want `\(\*loop.Loop\).CallLater touches loop state`
		b.wq.WakeOne()                                                            // want `\(\*loop.WaitQueue\).WakeOne touches loop state`
		b.g.Cancel()                                                              // want `\(\*loop.Group\).Cancel touches loop state`
		b.g.Task("led").Cancel()                                                  // want `\(\*loop.Task\).Cancel touches loop state`
		b.w.task.Cancel()                                                         // want `\(\*loop.Task\).Cancel touches loop state`
		b.tm.Stop()                                                               // want `\(\*loop.Timer\).Stop touches loop state`
		_ = b.l.Stats()                                                           // want `\(\*loop.Loop\).Stats touches loop state`
		_ = b.l.NewInlet("rx", 8)                                                 // want `\(\*loop.Loop\).NewInlet touches loop state`
		_ = b.fut.Task()                                                          // want `\(\*loop.Future\).Task touches loop state`
		_ = loop.Spawn(b.l, "y", func(*loop.Task) (int, error) { return 0, nil }) // want `loop.Spawn touches loop state`
		(*primitives.Event).Set(b.ev)                                             // want `\(\*primitives.Event\).Set touches loop state`
		_ = primitives.NewQueue[int](4)                                           // a constructor touches no loop
		_ = b.l.Now()                                                             // safe from any goroutine
	}()
	go b.ev.Set()           // want `\(\*primitives.Event\).Set touches loop state from a go statement`
	go b.q.TryPut("x")      // want `\(\*primitives.Queue\).TryPut touches loop state`
	go b.l.CallSoon(b.fire) // want `\(\*loop.Loop\).CallSoon touches loop state`
	go b.helper()           // a helper of ours: not followed
}

func (b *bridge) helper() {}
func (b *bridge) fire()   {}

// Post's function runs on the loop: everything is allowed inside.
func (b *bridge) correct(in <-chan string) {
	go func() {
		for m := range in {
			_ = b.l.Post(func() {
				b.q.TryPut(m)
				b.ev.Set()
				b.l.Go("x", func(t *loop.Task) error { return nil })
				b.g.Task("led").Cancel()
			})
		}
		// An inlet's TryPost is Post with a bound: its function runs on
		// the loop, and its counters may be read from anywhere.
		for m := range in {
			_ = b.in.TryPost(func() { b.q.TryPut(m) })
		}
		_ = b.in.TryPost(b.ev.Set)
		_ = b.in.Stats().Dropped
		_ = b.in.Name()
		// A method value handed to Post runs on the loop too.
		_ = b.l.Post(b.ev.Set)
		_ = b.l.Post(b.g.Cancel)
		// A literal only defined here is its own context.
		set := func() { b.ev.Set() }
		_ = b.l.Post(set)
	}()
	// OnLoop may be asked anywhere: it is how a test checks where it runs.
	go func() {
		if !b.l.OnLoop() {
			_ = b.l.Post(b.ev.Set)
		}
	}()
	// Loop code calls all of it.
	b.l.Go("y", func(t *loop.Task) error {
		b.q.TryPut("y")
		b.ev.Set()
		return nil
	})
}

// Other goroutines we know of: Offload's function, AfterFunc callbacks,
// paho's callbacks.
func (b *bridge) callbacks(t *loop.Task, c mqtt.Client, opts *mqtt.ClientOptions) error {
	_, err := loop.Offload(t, func(ctx context.Context) (int, error) {
		b.ev.Set() // want `\(\*primitives.Event\).Set touches loop state from a loop.Offload function`
		return 0, nil
	})
	if err != nil {
		return err
	}
	time.AfterFunc(time.Second, func() {
		b.ev.Set() // want `\(\*primitives.Event\).Set touches loop state from a time.AfterFunc callback`
	})
	context.AfterFunc(context.Background(), func() {
		b.ev.Set() // want `\(\*primitives.Event\).Set touches loop state from a context.AfterFunc callback`
		_ = b.l.Post(b.ev.Set)
	})
	c.Subscribe("cmd", 1, func(c mqtt.Client, m mqtt.Message) {
		b.q.TryPut(string(m.Payload())) // want `\(\*primitives.Queue\).TryPut touches loop state from an MQTT callback`
		_ = b.l.Post(func() { b.q.TryPut(string(m.Payload())) })
	})
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		b.ev.Set() // want `\(\*primitives.Event\).Set touches loop state from an MQTT callback`
	})
	return nil
}

// Run makes the goroutine it is called on the loop's: running the loop in
// a goroutine is the usual way for a test or a main that waits on signals.
func runInBackground(ctx context.Context, l *loop.Loop, ev *primitives.Event) {
	errc := make(chan error, 1)
	go func() {
		errc <- l.Run(ctx, func(t *loop.Task) error {
			ev.Set() // on the loop
			return t.Sleep(time.Second)
		})
	}()
	go l.RunForever(ctx)
	<-errc
}

// WaitGroup.Go starts a goroutine, as a go statement does.
func waitGroupGo(l *loop.Loop, ev *primitives.Event) {
	var wg sync.WaitGroup
	wg.Go(func() {
		ev.Set() // want `\(\*primitives.Event\).Set touches loop state from a function started by \(\*sync.WaitGroup\).Go`
		_ = l.Post(ev.Set)
	})
	wg.Wait()
}

// So do errgroup's Go and TryGo.
func errgroupGo(ctx context.Context, l *loop.Loop, q *primitives.Queue[int]) error {
	var g errgroup.Group
	g.Go(func() error {
		return l.Run(ctx, func(t *loop.Task) error { return q.Put(t, 1) })
	})
	g.TryGo(func() error {
		q.TryPut(2) // want `\(\*primitives.Queue\).TryPut touches loop state from a function started by \(\*errgroup.Group\).TryGo`
		return nil
	})
	return g.Wait()
}

// A task handed to a goroutine that awaits on it: both the hand-over and
// the await from the wrong goroutine are reported.
func awaitElsewhere(t *loop.Task) {
	go func(t *loop.Task) {
		t.Sleep(time.Second) // want `\(\*loop.Task\).Sleep touches loop state from a go statement` `error of await t.Sleep is dropped`
	}(t) // want `task handle t is passed to a goroutine`
}
