package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// maxIOQueue bounds the QoS 0 publications waiting for the network: past
// it they are dropped (and counted), as when disconnected.
const maxIOQueue = 8192

// Pub says how a binding publishes: QoS 0, 1 or 2 and the retain flag.
type Pub struct {
	QoS    byte
	Retain bool
}

// An Encoder turns a value into a payload.
type Encoder[T any] func(T) ([]byte, error)

// JSON encodes v as JSON.
func JSON[T any](v T) ([]byte, error) { return json.Marshal(v) }

// Text encodes v as plain text: strings and byte slices as they are,
// numbers in Go's shortest form, booleans as "true"/"false", anything else
// through fmt (a fmt.Stringer's String).
func Text[T any](v T) ([]byte, error) {
	switch x := any(v).(type) {
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'g', -1, 32), nil
	}
	return fmt.Append(nil, v), nil
}

// Raw passes bytes through.
func Raw(v []byte) ([]byte, error) { return v, nil }

// OnOff encodes a boolean as "ON" or "OFF", Home Assistant's default
// payloads for switches and binary sensors.
func OnOff(v bool) ([]byte, error) {
	if v {
		return []byte("ON"), nil
	}
	return []byte("OFF"), nil
}

// checkPub checks a publication's arguments.
func checkPub(topic string, qos byte) error {
	if err := checkTopicName(topic); err != nil {
		return fmt.Errorf("%w: topic %q: %w", ErrInvalid, topic, err)
	}
	if qos > 2 {
		return fmt.Errorf("%w: QoS %d (0, 1 or 2)", ErrInvalid, qos)
	}
	return nil
}

// Publish publishes a message from a task. QoS 0 goes straight to the
// broker when connected and is dropped, and counted, when not (a QoS 0
// publish never waits and returns nil). QoS 1 and 2 are appended to the
// persistent outbox and delivered in order, now or after a (re)connect, even
// after a restart: Publish awaits only that append (a write to the log, off
// the loop), never the broker. Errors: ErrInvalid for a bad topic or QoS,
// outbox.ErrFull when the outbox is full under outbox.RejectNew,
// outbox.ErrTooLarge, ErrClosed after the bridge ended, or the task's
// interruption (the message may then still be queued).
func (b *Bridge) Publish(t *loop.Task, topic string, payload []byte, qos byte, retain bool) error {
	if err := checkPub(topic, qos); err != nil {
		return err
	}
	if err := b.checkRetain(topic, retain); err != nil {
		return err
	}
	b.cacheState(topic, payload, qos, retain)
	if qos == 0 {
		b.send0(topic, payload, retain)
		return nil
	}
	w := &pubWait{}
	if !b.writer.put(appendReq{topic: topic, payload: payload, qos: qos, retain: retain, w: w}) {
		return ErrClosed
	}
	for !w.done {
		if err := w.wq.Wait(t); err != nil {
			return err
		}
	}
	return w.err
}

// TryPublish is Publish for code that cannot await: callbacks and posted
// functions. It never waits; a QoS ≥ 1 message is queued for the outbox,
// and an append that fails later is logged and counted in
// Stats.PublishErrors. It still fails at once for bad arguments and after
// the bridge ended.
func (b *Bridge) TryPublish(topic string, payload []byte, qos byte, retain bool) error {
	if err := checkPub(topic, qos); err != nil {
		return err
	}
	if err := b.checkRetain(topic, retain); err != nil {
		return err
	}
	b.cacheState(topic, payload, qos, retain)
	if qos == 0 {
		b.send0(topic, payload, retain)
		return nil
	}
	if !b.writer.put(appendReq{topic: topic, payload: payload, qos: qos, retain: retain}) {
		return ErrClosed
	}
	return nil
}

// ReportError publishes {"source": source, "error": err} on
// <base>/<node>/error (QoS 0, not retained): the place for errors that have
// no request to answer, such as a command payload a task could not parse.
func (b *Bridge) ReportError(source string, err error) {
	if err == nil {
		return
	}
	p, _ := json.Marshal(struct {
		Source string `json:"source"`
		Error  string `json:"error"`
	}{source, err.Error()})
	b.send0(b.topics.Error(), p, false)
}

// send0 sends a QoS 0 message if a connection is up, else counts it
// dropped.
func (b *Bridge) send0(topic string, payload []byte, retain bool) {
	if !b.sendDirect(topic, payload, 0, retain) {
		b.st.droppedQoS0++
	}
}

// sendDirect hands a publication to the I/O worker for the current
// connection, without the outbox. It reports false when there is no
// connection (or too much is queued already).
func (b *Bridge) sendDirect(topic string, payload []byte, qos byte, retain bool) bool {
	c := b.conn
	if c == nil || c.down || b.ioQueued.Load() >= maxIOQueue {
		return false
	}
	b.ioQueued.Add(1)
	if !b.io.put(ioOp{c: c, topic: topic, payload: payload, qos: qos, retain: retain}) {
		b.ioQueued.Add(-1)
		return false
	}
	return true
}

// pubWait is what a Publish awaits: the outbox append of its message.
type pubWait struct {
	done bool
	err  error
	wq   loop.WaitQueue
}

// appendReq is one message for the outbox writer.
type appendReq struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	w       *pubWait // nil for TryPublish
}

// writerLoop appends queued messages to the outbox, in order, and tells
// the loop which Publish calls are done, one Post per batch.
func (b *Bridge) writerLoop() {
	defer close(b.writerDone)
	var buf []appendReq
	for {
		reqs, ok := b.writer.take(buf)
		if !ok {
			return
		}
		var waits []*pubWait
		var errs []error
		for i := range reqs {
			r := &reqs[i]
			_, err := b.ob.Append(r.topic, r.payload, r.qos, r.retain)
			if err != nil {
				b.ctr.publishErrors.Add(1)
				if r.w == nil {
					b.log.Warn("bridge: publication not queued", "topic", r.topic, "err", err)
				}
			}
			if r.w != nil {
				waits = append(waits, r.w)
				errs = append(errs, err)
			}
			*r = appendReq{}
		}
		b.refreshOutboxStats()
		if len(waits) > 0 {
			_ = b.l.Post(func() {
				for i, w := range waits {
					w.done, w.err = true, errs[i]
					w.wq.WakeAll()
				}
			})
		}
		buf = reqs
	}
}

// ioOp is one job of the I/O worker: acknowledge a received message,
// publish without the outbox, or run fn (publications whose tokens a task
// awaits).
type ioOp struct {
	fn      func() // run as it is, when set
	c       *conn
	ack     mqtt.Message
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// ioLoop runs paho calls that may block — acknowledgements go through
// paho's unbuffered channels — off the loop, in order.
func (b *Bridge) ioLoop() {
	defer close(b.ioDone)
	var buf []ioOp
	for {
		ops, ok := b.io.take(buf)
		if !ok {
			return
		}
		sent := false
		for i := range ops {
			op := &ops[i]
			if op.fn != nil {
				op.fn()
			} else if op.ack != nil {
				op.ack.Ack()
				b.ctr.acked.Add(1)
			} else {
				sent = true
				b.ioQueued.Add(-1)
				select {
				case <-op.c.lost:
					if op.qos == 0 {
						b.ctr.droppedQoS0.Add(1)
					}
				default:
					op.c.client.Publish(op.topic, op.qos, op.retain, op.payload)
					if op.qos == 0 {
						b.ctr.publishedQoS0.Add(1)
					}
				}
			}
			*op = ioOp{}
		}
		if sent && b.ioQueued.Load() == 0 {
			_ = b.l.Post(b.notify) // caught up: counters are final for now
		}
		buf = ops
	}
}

// flight is a QoS ≥ 1 publication awaiting the broker's acknowledgement.
type flight struct {
	seq uint64
	tok mqtt.Token
}

// sender sends the outbox over c until c is lost: everything not yet
// acknowledged first (Rewind: what was in flight on the last connection may
// not have arrived), then new messages as they are appended, keeping up to
// WithInflight of them unacknowledged. Each is acknowledged in the outbox
// when its PUBACK (PUBCOMP for QoS 2) arrives. Runs on its own goroutine.
func (b *Bridge) sender(c *conn) {
	defer close(c.senderDone)
	b.ob.Rewind()
	window := make(chan flight, b.s.inflight)
	ackerDone := make(chan struct{})
	go b.acker(c, window, ackerDone)
	defer func() {
		close(window)
		<-ackerDone
	}()
	notify := b.ob.Notify()
	for {
		msgs, err := b.ob.Next(b.s.inflight)
		if err != nil {
			b.log.Error("bridge: reading the outbox", "err", err)
			c.fail(fmt.Errorf("outbox: %w", err))
			return
		}
		if len(msgs) == 0 {
			select {
			case <-notify:
				continue
			case <-c.lost:
				return
			}
		}
		for _, m := range msgs {
			tok := c.client.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
			select {
			case window <- flight{m.Seq, tok}:
			case <-c.lost:
				return
			}
		}
	}
}

// acker acknowledges in the outbox what the broker acknowledged, in order.
func (b *Bridge) acker(c *conn, window <-chan flight, done chan<- struct{}) {
	defer close(done)
	defer b.refreshOutboxStats()
	drain := func() {
		for range window { //nolint:revive // drain until the sender closes it
		}
	}
	for f := range window {
		select {
		case <-f.tok.Done():
		case <-c.lost:
			drain()
			return
		}
		if err := f.tok.Error(); err != nil {
			c.fail(fmt.Errorf("publish: %w", err))
			drain()
			return
		}
		if err := b.ob.Ack(f.seq); err != nil {
			b.log.Error("bridge: acknowledging in the outbox", "seq", f.seq, "err", err)
		}
		b.ctr.delivered.Add(1)
		if len(window) == 0 {
			// Caught up: publish the counters and tell the loop's watchers.
			b.refreshOutboxStats()
			_ = b.l.Post(b.notify)
		}
	}
}

// BindEvent publishes every change of ev on topic: a task follows the
// event with WaitNext, so a burst of Sets while the link is slow publishes
// the latest value (each Set is published when the publisher keeps up).
// The event's current value, if set, is published first. Call it before or
// while Run runs; the task stops with the bridge.
func BindEvent[T any](b *Bridge, ev *primitives.Event[T], topic string, enc Encoder[T], p Pub) error {
	if err := checkPub(topic, p.QoS); err != nil {
		return err
	}
	if ev == nil || enc == nil {
		return fmt.Errorf("%w: BindEvent %s: nil event or encoder", ErrInvalid, topic)
	}
	b.start("bridge/event "+topic, func(t *loop.Task) error {
		var seen uint64
		for {
			v, n, err := ev.WaitNext(t, seen)
			if err != nil {
				return err
			}
			seen = n
			if err := publishEncoded(b, t, topic, v, enc, p); err != nil {
				return err
			}
		}
	})
	return nil
}

// BindQueue publishes every item of q on topic, in order: for event
// streams, where every item counts. The task ends when q is closed and
// drained.
func BindQueue[T any](b *Bridge, q *primitives.Queue[T], topic string, enc Encoder[T], p Pub) error {
	if err := checkPub(topic, p.QoS); err != nil {
		return err
	}
	if q == nil || enc == nil {
		return fmt.Errorf("%w: BindQueue %s: nil queue or encoder", ErrInvalid, topic)
	}
	b.start("bridge/queue "+topic, func(t *loop.Task) error {
		for {
			v, err := q.Get(t)
			if errors.Is(err, primitives.ErrClosed) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := publishEncoded(b, t, topic, v, enc, p); err != nil {
				return err
			}
		}
	})
	return nil
}

// publishEncoded encodes and publishes one value; it returns only the
// task's interruption: an encoding or outbox error is logged and counted,
// and the binding goes on.
func publishEncoded[T any](b *Bridge, t *loop.Task, topic string, v T, enc Encoder[T], p Pub) error {
	payload, err := enc(v)
	if err != nil {
		b.st.encodeErrors++
		b.log.Warn("bridge: value not encodable", "topic", topic, "err", err)
		return nil
	}
	if err := b.Publish(t, topic, payload, p.QoS, p.Retain); err != nil {
		if isInterrupt(err) {
			return err
		}
		b.log.Warn("bridge: publication failed", "topic", topic, "err", err)
	}
	return nil
}
