// Package inputdrv is the plumbing the drivers built on a gpioin.Input
// (button, contact, the nec receiver) share: the input with the pull that
// matches the wiring, and the outbox their events go through — the user's
// callback, then a bounded queue that drops its oldest event when full.
//
// It must not decide what an edge means (that is each driver's), nor how a
// driver is configured: options and their messages stay in the drivers.
package inputdrv

import (
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/primitives"
	"periph.io/x/conn/v3/gpio"
)

// NewInput returns the gpioin.Input of a driver's pin: pulled up for a
// contact wired to ground (active low), down for one wired to the supply
// (activeHigh), then the user's options, which may set another pull, then
// forced, the options the driver insists on.
func NewInput(pin gpio.PinIn, activeHigh bool, user []gpioin.Option, forced ...gpioin.Option) (*gpioin.Input, error) {
	pull := gpio.PullUp
	if activeHigh {
		pull = gpio.PullDown
	}
	opts := make([]gpioin.Option, 0, 1+len(user)+len(forced))
	opts = append(opts, gpioin.WithPull(pull))
	opts = append(opts, user...)
	opts = append(opts, forced...)
	return gpioin.New(pin, opts...)
}

// An Outbox is where a driver sends its events: to the user's callback,
// if any, then to a bounded queue that drops its oldest event to make room
// and counts each loss. It is used on the loop.
type Outbox[E any] struct {
	queue   *primitives.Queue[E]
	notify  func(E)
	dropped uint64
}

// NewOutbox returns an outbox with a queue of size events that calls
// notify, if it is not nil, with each event first.
func NewOutbox[E any](size int, notify func(E)) *Outbox[E] {
	return &Outbox[E]{queue: primitives.NewQueue[E](size), notify: notify}
}

// Send calls the callback with e, then queues it.
func (o *Outbox[E]) Send(e E) {
	o.Notify(e)
	o.Queue(e)
}

// Notify calls the callback with e, if there is one; it does not queue e.
func (o *Outbox[E]) Notify(e E) {
	if o.notify != nil {
		o.notify(e)
	}
}

// Queue puts e to the queue, dropping the oldest event if it is full. A
// dropped event counts as lost, and so does e if the queue is closed.
func (o *Outbox[E]) Queue(e E) {
	if _, dropped, err := o.queue.PutDropOldest(e); dropped || err != nil {
		o.dropped++
	}
}

// Events returns the queue.
func (o *Outbox[E]) Events() *primitives.Queue[E] { return o.queue }

// Dropped reports how many events were lost because the queue was full (or
// closed).
func (o *Outbox[E]) Dropped() uint64 { return o.dropped }
