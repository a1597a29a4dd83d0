package bridge

import (
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

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

// Policy says what a binding does with a message when its queue is full.
// Whatever the policy, a QoS 1 or 2 message is acknowledged to the broker
// only once it is in the queue (or deliberately dropped): a message the loop
// never took is delivered again by the broker after a reconnect, in a
// persistent session (the default, see WithCleanSession).
type Policy int

const (
	// Wait holds messages, unacknowledged and in order, until the queue
	// has room: back-pressure. The broker sends at most its in-flight
	// window of unacknowledged QoS ≥ 1 messages, so it stops sending while
	// the task lags. QoS 0 messages cannot be held back that way; past
	// MaxHeld held messages, new ones are refused as with Reject.
	Wait Policy = iota
	// DropOldest makes room by dropping the oldest queued message, so the
	// task sees the latest ones (sensor readings). Every drop is counted
	// and logged.
	DropOldest
	// Reject refuses the new message: it is counted, logged and not
	// acknowledged, so the broker delivers it again after the next
	// reconnect.
	Reject
)

// MaxHeld bounds the messages a Wait binding holds beyond its queue.
const MaxHeld = 1024

func (p Policy) String() string {
	switch p {
	case Wait:
		return "wait"
	case DropOldest:
		return "drop-oldest"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// subscription is one topic filter the bridge subscribes on every connect,
// and what to do with its messages on the loop.
type subscription struct {
	filter string
	qos    byte
	route  func(d *delivery)
}

// inbox is a queue fed by the bridge, with its policy and counters.
type inbox struct {
	name   string
	q      *primitives.Queue[Message]
	policy Policy
	held   []*delivery
	wq     loop.WaitQueue // the pump waits for held messages
	st     BindingStats

	warnAt   time.Time // last warning about drops
	unwarned uint64    // drops since
}

// delivery is one received message on its way into one or more queues.
type delivery struct {
	Message
	raw      mqtt.Message
	c        *conn
	wait     int // bindings that have not decided yet (+1 while routing)
	refused  bool
	accepted []*inbox
}

// Subscribe binds the topic filter (wildcards allowed) to q: each message
// received on a matching topic is put to q, where a task takes it with
// q.Get(t). qos is the subscription's maximum QoS; p says what happens when
// q is full (see Policy). The subscription is made on every connect. Call it
// before Run or on the loop while Run runs.
//
// Overlapping filters of several bindings each get the message; a broker
// that sends one copy per matching subscription makes each binding see it
// more than once.
func (b *Bridge) Subscribe(filter string, qos byte, q *primitives.Queue[Message], p Policy) error {
	if err := checkFilter(filter); err != nil {
		return fmt.Errorf("%w: Subscribe %q: %w", ErrInvalid, filter, err)
	}
	if qos > 2 {
		return fmt.Errorf("%w: Subscribe %q: QoS %d (0, 1 or 2)", ErrInvalid, filter, qos)
	}
	if q == nil {
		return fmt.Errorf("%w: Subscribe %q: nil queue", ErrInvalid, filter)
	}
	if p < Wait || p > Reject {
		return fmt.Errorf("%w: Subscribe %q: unknown policy %d", ErrInvalid, filter, p)
	}
	if b.state == ended {
		return ErrClosed
	}
	in := b.newInbox(filter, q, p)
	b.addSub(&subscription{filter: filter, qos: qos, route: func(d *delivery) { b.offer(in, d) }})
	return nil
}

func (b *Bridge) newInbox(name string, q *primitives.Queue[Message], p Policy) *inbox {
	in := &inbox{name: name, q: q, policy: p}
	in.st.Binding = name
	in.st.Policy = p.String()
	b.inboxes = append(b.inboxes, in)
	if p == Wait {
		b.start("bridge/in "+name, func(t *loop.Task) error { return b.pump(t, in) })
	}
	return in
}

// addSub registers s and, when connected, subscribes it at once.
func (b *Bridge) addSub(s *subscription) {
	b.subs = append(b.subs, s)
	c := b.conn
	if c == nil || c.down || !c.ready || b.state != running {
		return // the next connect subscribes it
	}
	b.start("bridge/subscribe "+s.filter, func(t *loop.Task) error {
		err := b.subscribe(t, c, map[string]byte{s.filter: s.qos})
		if err != nil && !isInterrupt(err) {
			b.log.Warn("bridge: subscribe failed; retried on reconnect", "filter", s.filter, "err", err)
			return nil
		}
		return err
	})
}

// route hands a received message to every binding whose filter matches;
// it runs on the loop. The message is acknowledged once all of them
// accepted it, never if one refused it.
func (b *Bridge) route(c *conn, m Message, raw mqtt.Message) {
	d := &delivery{Message: m, raw: raw, c: c, wait: 1}
	matched := false
	for _, s := range b.subs {
		if matchTopic(s.filter, m.Topic) {
			matched = true
			s.route(d)
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

// settle counts one decision off d and acknowledges it when all are in.
func (b *Bridge) settle(d *delivery) {
	d.wait--
	if d.wait > 0 || d.refused || d.QoS == 0 {
		return
	}
	for _, in := range d.accepted {
		in.st.Acked++
	}
	b.io.put(ioOp{ack: d.raw})
}

func (b *Bridge) accept(in *inbox, d *delivery) {
	in.st.Accepted++
	d.accepted = append(d.accepted, in)
	b.settle(d)
	b.notify()
}

func (b *Bridge) refuse(in *inbox, d *delivery, why string) {
	in.st.Rejected++
	d.refused = true
	b.logDrop(in, d.Topic, "message refused, not acknowledged ("+why+")")
	b.settle(d)
	b.notify()
}

// offer puts d into in according to its policy.
func (b *Bridge) offer(in *inbox, d *delivery) {
	in.st.Received++
	d.wait++
	if len(in.held) == 0 {
		err := in.q.TryPut(d.Message)
		switch {
		case err == nil:
			b.accept(in, d)
			return
		case errors.Is(err, primitives.ErrClosed):
			// Nobody will read it: drop it, acknowledged, rather than
			// have the broker send it again forever.
			in.st.Dropped++
			b.logDrop(in, d.Topic, "queue closed, message dropped")
			b.accept(in, d)
			return
		}
	}
	switch in.policy {
	case Wait:
		if len(in.held) >= MaxHeld {
			b.refuse(in, d, "too many held")
			return
		}
		in.held = append(in.held, d)
		in.st.Held = len(in.held)
		in.wq.WakeOne()
		b.notify()
	case DropOldest:
		old, dropped, err := in.q.PutDropOldest(d.Message)
		if err != nil {
			b.refuse(in, d, err.Error())
			return
		}
		if dropped {
			in.st.Dropped++
			b.logDrop(in, old.Topic, "queue full, oldest message dropped")
		}
		b.accept(in, d)
	case Reject:
		b.refuse(in, d, "queue full")
	}
}

// pump moves held messages of a Wait binding into its queue as room
// appears, acknowledging each once it is in.
func (b *Bridge) pump(t *loop.Task, in *inbox) error {
	for {
		for len(in.held) == 0 {
			if err := in.wq.Wait(t); err != nil {
				return err
			}
		}
		d := in.held[0]
		err := in.q.Put(t, d.Message)
		if err != nil && !errors.Is(err, primitives.ErrClosed) {
			return err
		}
		in.held[0] = nil
		in.held = in.held[1:]
		in.st.Held = len(in.held)
		if err != nil {
			in.st.Dropped++
			b.logDrop(in, d.Topic, "queue closed, message dropped")
		}
		b.accept(in, d)
	}
}

// logDrop logs every drop at debug level, and a warning with the count at
// most every ten seconds per binding.
func (b *Bridge) logDrop(in *inbox, topic, what string) {
	b.log.Debug("bridge: "+what, "binding", in.name, "topic", topic)
	in.unwarned++
	now := b.l.Now()
	if !in.warnAt.IsZero() && now.Sub(in.warnAt) < 10*time.Second {
		return
	}
	b.log.Warn("bridge: "+what, "binding", in.name, "topic", topic, "count", in.unwarned,
		"received", in.st.Received, "dropped", in.st.Dropped, "rejected", in.st.Rejected)
	in.warnAt, in.unwarned = now, 0
}
