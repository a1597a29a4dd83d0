package bridge

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// This file is the way in: bindings of topic filters to queues and
// functions, routing what paho hands over to them on the loop, and
// acknowledging each message once the bindings have taken it.

// Message is one MQTT message received by a binding.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	// Retained is set for a message the broker kept and replays on
	// subscribe: a command task usually ignores those.
	Retained bool
	// Duplicate is set when the broker sends a message again (after a
	// reconnect): it may have been delivered before.
	Duplicate bool
}

// Sub says how a binding subscribes: the subscription's maximum QoS and
// what to do with a message when the binding's queue is full.
type Sub struct {
	QoS      byte
	WhenFull Overflow
}

// Overflow says what a binding does with a message when its queue is full.
// Whatever it says, a QoS 1 or 2 message is acknowledged to the broker only
// once it is in the queue (or deliberately dropped): a message the loop never
// took is delivered again by the broker after a reconnect, in a persistent
// session (the default, see WithCleanSession).
type Overflow int

const (
	// Hold holds messages, unacknowledged and in order, until the queue
	// has room: back-pressure. The broker sends at most its in-flight
	// window of unacknowledged QoS ≥ 1 messages, so it stops sending while
	// the task lags. QoS 0 messages cannot be held back that way; past
	// MaxHeld held messages, new ones are refused as with Reject.
	Hold Overflow = iota
	// DropOldest makes room by dropping the oldest queued message, so the
	// task sees the latest ones (sensor readings). Every drop is counted
	// and logged.
	DropOldest
	// Reject refuses the new message: it is counted, logged and not
	// acknowledged, so the broker delivers it again after the next
	// reconnect.
	Reject
)

// MaxHeld bounds the messages a Hold binding holds beyond its queue.
const MaxHeld = 1024

func (p Overflow) String() string {
	switch p {
	case Hold:
		return "hold"
	case DropOldest:
		return "drop-oldest"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Overflow(%d)", int(p))
}

// Binding kinds, in BindingStats.Kind.
const (
	kindQueue  = "queue"  // Subscribe
	kindFunc   = "func"   // SubscribeFunc
	kindBridge = "bridge" // the bridge's own (availability, echo, Home Assistant's birth)
)

// binding is one filter bound to a queue, a function or the bridge's own
// routing, with its counters.
type binding struct {
	filter  string
	kind    string
	route   func(d *delivery) // kindBridge
	fn      func(Message)     // kindFunc
	q       *primitives.Queue[Message]
	policy  Overflow
	held    []*delivery
	wq      loop.WaitQueue // the pump waits for held messages
	pump    *job
	st      BindingStats
	removed bool
	shed    atomic.Uint64 // QoS 0 messages dropped on arrival (paho's goroutine)

	warnAt   time.Time // last warning about drops
	unwarned uint64    // drops since
}

// delivery is one received message on its way into one or more bindings.
type delivery struct {
	Message
	raw      mqtt.Message
	c        *conn
	wait     int // bindings that have not decided yet (+1 while routing)
	refused  bool
	accepted []*binding
}

// Subscribe binds the topic filter (wildcards allowed) to q: each message
// received on a matching topic is put to q, where a task takes it with
// q.Get(t). s gives the subscription's maximum QoS and what happens when q
// is full (see Overflow). The subscription is made on every connect until
// Unsubscribe. Call it before Run or on the loop while Run runs.
//
// Overlapping filters of several bindings each get the message; a broker
// that sends one copy per matching subscription makes each binding see it
// more than once.
func (b *Bridge) Subscribe(filter string, q *primitives.Queue[Message], s Sub) error {
	if err := checkSub(filter, s.QoS); err != nil {
		return fmt.Errorf("%w: Subscribe %w", ErrInvalid, err)
	}
	if q == nil {
		return fmt.Errorf("%w: Subscribe %q: nil queue", ErrInvalid, filter)
	}
	if s.WhenFull < Hold || s.WhenFull > Reject {
		return fmt.Errorf("%w: Subscribe %q: unknown Overflow %d", ErrInvalid, filter, s.WhenFull)
	}
	if b.state == ended {
		return ErrClosed
	}
	bd := &binding{filter: filter, kind: kindQueue, q: q, policy: s.WhenFull}
	bd.st.Policy = s.WhenFull.String()
	if s.WhenFull == Hold {
		bd.pump = b.start("bridge/in "+filter, func(t *loop.Task) error { return b.pump(t, bd) })
	}
	b.addBinding(bd, s.QoS)
	return nil
}

// SubscribeFunc binds the topic filter to fn, which the loop calls with each
// message received on a matching topic, in order: for code that routes
// messages itself (the request/reply package does). fn runs on the loop as a
// callback: it must not block, and it cannot await (it may Post, TryPut,
// TryPublish). A message is acknowledged once fn has returned; a panic in fn
// is logged and counts as taken. Call it before Run or on the loop.
func (b *Bridge) SubscribeFunc(filter string, qos byte, fn func(Message)) error {
	if err := checkSub(filter, qos); err != nil {
		return fmt.Errorf("%w: SubscribeFunc %w", ErrInvalid, err)
	}
	if fn == nil {
		return fmt.Errorf("%w: SubscribeFunc %q: nil function", ErrInvalid, filter)
	}
	if b.state == ended {
		return ErrClosed
	}
	b.addBinding(&binding{filter: filter, kind: kindFunc, fn: fn}, qos)
	return nil
}

func checkSub(filter string, qos byte) error {
	if err := topic.CheckFilter(filter); err != nil {
		return fmt.Errorf("%q: %w", filter, err)
	}
	if qos > 2 {
		return fmt.Errorf("%q: QoS %d (0, 1 or 2)", filter, qos)
	}
	return nil
}

// Unsubscribe removes every binding of filter made by Subscribe or
// SubscribeFunc and tells the broker: at once when connected, else at the
// next connect (a persistent session would otherwise keep sending). Later
// reconnects do not subscribe it again. Messages already in a binding's
// queue stay there; messages a Hold binding was holding are dropped
// (acknowledged, counted). It fails with ErrInvalid when no binding has that
// filter.
func (b *Bridge) Unsubscribe(filter string) error {
	found := false
	for _, bd := range b.bindings {
		if bd.filter == filter && bd.kind != kindBridge {
			found = true
			b.unbind(bd)
		}
	}
	if !found {
		return fmt.Errorf("%w: Unsubscribe %q: no binding has this filter", ErrInvalid, filter)
	}
	b.bindings = slices.DeleteFunc(slices.Clone(b.bindings), func(bd *binding) bool { return bd.removed })
	b.shedTable.Store(&b.bindings)
	b.dropFilterIfUnused(filter)
	b.notify()
	return nil
}

// unbind takes bd out of routing and lets go of what it holds.
func (b *Bridge) unbind(bd *binding) {
	bd.removed = true
	if bd.pump != nil {
		bd.pump.stop()
	}
	held := bd.held
	bd.held = nil
	bd.st.Held = 0
	for _, d := range held {
		bd.st.Dropped++
		b.logDrop(bd, d.Topic, "unsubscribed, held message dropped")
		b.accept(bd, d)
	}
}

// addBinding registers bd and makes sure its filter is subscribed at qos
// (at least).
func (b *Bridge) addBinding(bd *binding, qos byte) {
	bd.st.Binding = bd.filter
	bd.st.Kind = bd.kind
	b.bindings = append(slices.Clip(b.bindings), bd)
	b.shedTable.Store(&b.bindings)
	b.wantFilter(bd.filter, qos)
}

// shed counts a QoS 0 message dropped on arrival, on paho's goroutine:
// for every binding whose filter it matches, through the bindings as the
// loop last published them (a copy nobody changes; the counters are
// atomic).
func (b *Bridge) shed(name string) {
	b.ctr.shedQoS0.Add(1)
	for _, bd := range *b.shedTable.Load() {
		if topic.Match(bd.filter, name) {
			bd.shed.Add(1)
		}
	}
}

// route hands a received message to every binding whose filter matches;
// it runs on the loop. The message is acknowledged once all of them
// accepted it, never if one refused it.
func (b *Bridge) route(c *conn, m Message, raw mqtt.Message) {
	d := &delivery{Message: m, raw: raw, c: c, wait: 1}
	matched := false
	// Ranging over the slice as it is now: a binding's function may add or
	// remove bindings, which replaces the slice rather than changing it.
	for _, bd := range b.bindings {
		if bd.removed || !topic.Match(bd.filter, m.Topic) {
			continue
		}
		matched = true
		switch bd.kind {
		case kindBridge:
			bd.st.Received++
			bd.route(d)
			bd.st.Accepted++
		case kindFunc:
			bd.st.Received++
			d.wait++
			b.callFunc(bd, d.Message)
			b.accept(bd, d)
		default:
			b.offer(bd, d)
		}
	}
	if b.ha != nil && b.ha.readback != nil && m.Topic == b.ha.readback.topic {
		b.ha.readback.got = true
		b.ha.readback.payload = m.Payload
		matched = true
	}
	if !matched {
		b.st.unmatched++
	}
	b.settle(d)
}

// callFunc runs a SubscribeFunc function, turning a panic into a log line.
func (b *Bridge) callFunc(bd *binding, m Message) {
	defer func() {
		if r := recover(); r != nil {
			b.st.funcPanics++
			b.log.Error("bridge: subscription function panicked", "binding", bd.filter, "topic", m.Topic, "panic", r)
		}
	}()
	bd.fn(m)
}

// settle counts one decision off d and acknowledges it when all are in.
func (b *Bridge) settle(d *delivery) {
	d.wait--
	if d.wait > 0 || d.refused || d.QoS == 0 {
		return
	}
	for _, bd := range d.accepted {
		bd.st.Acked++
	}
	b.io.put(ioOp{ack: d.raw})
}

func (b *Bridge) accept(bd *binding, d *delivery) {
	bd.st.Accepted++
	d.accepted = append(d.accepted, bd)
	b.settle(d)
	b.notify()
}

func (b *Bridge) refuse(bd *binding, d *delivery, why string) {
	bd.st.Rejected++
	d.refused = true
	b.logDrop(bd, d.Topic, "message refused, not acknowledged ("+why+")")
	b.settle(d)
	b.notify()
}

// offer puts d into a queue binding according to its policy.
func (b *Bridge) offer(bd *binding, d *delivery) {
	bd.st.Received++
	d.wait++
	if len(bd.held) == 0 {
		err := bd.q.TryPut(d.Message)
		switch {
		case err == nil:
			b.accept(bd, d)
			return
		case errors.Is(err, primitives.ErrClosed):
			// Nobody will read it: drop it, acknowledged, rather than
			// have the broker send it again forever.
			bd.st.Dropped++
			b.logDrop(bd, d.Topic, "queue closed, message dropped")
			b.accept(bd, d)
			return
		}
	}
	switch bd.policy {
	case Hold:
		if len(bd.held) >= MaxHeld {
			b.refuse(bd, d, "too many held")
			return
		}
		bd.held = append(bd.held, d)
		bd.st.Held = len(bd.held)
		bd.wq.WakeOne()
		b.notify()
	case DropOldest:
		old, dropped, err := bd.q.PutDropOldest(d.Message)
		if err != nil {
			b.refuse(bd, d, err.Error())
			return
		}
		if dropped {
			bd.st.Dropped++
			b.logDrop(bd, old.Topic, "queue full, oldest message dropped")
		}
		b.accept(bd, d)
	case Reject:
		b.refuse(bd, d, "queue full")
	}
}

// pump moves held messages of a Hold binding into its queue as room
// appears, acknowledging each once it is in.
func (b *Bridge) pump(t *loop.Task, bd *binding) error {
	for {
		for len(bd.held) == 0 {
			if err := bd.wq.Wait(t); err != nil {
				return err
			}
		}
		d := bd.held[0]
		err := bd.q.Put(t, d.Message)
		if err != nil && !errors.Is(err, primitives.ErrClosed) {
			return err
		}
		if bd.removed {
			return nil // Unsubscribe let go of the held messages
		}
		bd.held[0] = nil
		bd.held = bd.held[1:]
		bd.st.Held = len(bd.held)
		if err != nil {
			bd.st.Dropped++
			b.logDrop(bd, d.Topic, "queue closed, message dropped")
		}
		b.accept(bd, d)
	}
}

// logDrop logs every drop at debug level, and a warning with the count at
// most every ten seconds per binding.
func (b *Bridge) logDrop(bd *binding, topic, what string) {
	b.log.Debug("bridge: "+what, "binding", bd.filter, "topic", topic)
	bd.unwarned++
	now := b.l.Now()
	if !bd.warnAt.IsZero() && now.Sub(bd.warnAt) < 10*time.Second {
		return
	}
	b.log.Warn("bridge: "+what, "binding", bd.filter, "topic", topic, "count", bd.unwarned,
		"received", bd.st.Received, "dropped", bd.st.Dropped, "rejected", bd.st.Rejected)
	bd.warnAt, bd.unwarned = now, 0
}
