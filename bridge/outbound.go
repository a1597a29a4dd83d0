package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// This file is the way out: publications from tasks and callbacks, the
// outbox writer, the I/O worker, the sender that drains the outbox over a
// connection, and the bindings that publish Events and Queues.

// maxIOQueue bounds the direct publications waiting for the network: past
// it they are dropped (and counted), as when disconnected.
const maxIOQueue = 8192

// maxTryQueue bounds the TryPublish messages waiting for the outbox writer
// (the disk): past it, TryPublish drops the oldest of them under
// outbox.DropOldest and fails under outbox.RejectNew.
const maxTryQueue = 4096

// Pub says how a message is published.
type Pub struct {
	// QoS is 0, 1 or 2. QoS 0 goes straight to the broker while connected
	// and is dropped, and counted, while not. QoS 1 and 2 go through the
	// persistent outbox, unless Direct.
	QoS byte
	// Retain asks the broker to keep the message for later subscribers.
	Retain bool

	// Latest (QoS ≥ 1): only the newest undelivered message on the topic
	// matters — a newer one published with Latest replaces it in the outbox,
	// so an outage replays the current state, not its history.
	Latest bool
	// MaxAge (QoS ≥ 1), when positive: the message is worth sending only
	// while younger than this; one still in the outbox when it could be
	// sent, and older, is dropped and counted (Stats.Outbox.Expired). For
	// events — a button pressed ten minutes ago must not switch a light
	// when the network returns.
	MaxAge time.Duration

	// Direct skips the outbox: the message goes to the broker now, through
	// the current connection, or Publish fails with ErrNotConnected. It is
	// not kept for a reconnect (at most once across one) and keeps no
	// order with the outbox's messages. For answers to someone waiting now
	// (replies) and commands that must not arrive late (requests).
	Direct bool
}

// checkPub checks a publication's arguments.
func (b *Bridge) checkPub(name string, p Pub) error {
	if err := topic.CheckName(name); err != nil {
		return fmt.Errorf("%w: topic %q: %w", ErrInvalid, name, err)
	}
	switch {
	case p.QoS > 2:
		return fmt.Errorf("%w: %s: QoS %d (0, 1 or 2)", ErrInvalid, name, p.QoS)
	case p.MaxAge < 0:
		return fmt.Errorf("%w: %s: MaxAge %v is negative", ErrInvalid, name, p.MaxAge)
	case (p.Latest || p.MaxAge > 0) && (p.QoS == 0 || p.Direct):
		return fmt.Errorf("%w: %s: Latest and MaxAge choose what the outbox replays; QoS 0 and Direct publications skip the outbox", ErrInvalid, name)
	}
	return b.checkRetain(name, p.Retain)
}

// Publish publishes a message from a task; p says how (see Pub). QoS 0 and
// Direct publications are handed to the connection's I/O worker and never
// wait. QoS 1 and 2 are appended to the persistent outbox and delivered in
// order, now or after a (re)connect, even after a restart: Publish awaits
// only that append (a write to the log, off the loop), never the broker.
// Errors: ErrInvalid for bad arguments, ErrNotConnected for a Direct
// publication without a connection, outbox.ErrFull when the outbox is full
// under outbox.RejectNew, outbox.ErrTooLarge, ErrClosed after the bridge
// ended, or the task's interruption (the message may then still be queued).
func (b *Bridge) Publish(t *loop.Task, name string, payload []byte, p Pub) error {
	// Every await is a checkpoint, the paths that need not wait (QoS 0,
	// Direct) included: a cancelled task publishes nothing.
	if err := t.Checkpoint(); err != nil {
		return err
	}
	if sent, err := b.publishNow(name, payload, p); sent || err != nil {
		return err
	}
	w := &pubWait{}
	if !b.writer.put(appendReq{m: outboxMessage(name, payload, p), w: w}) {
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
// Stats.PublishErrors. It fails at once for bad arguments, without a
// connection for Direct, after the bridge ended, and — under
// outbox.RejectNew — with outbox.ErrFull when the outbox and the messages
// waiting for it fill its bounds. Under outbox.DropOldest, when the disk
// lags so far behind that maxTryQueue messages wait in memory, the oldest of
// them is dropped (Stats.DroppedBeforeOutbox).
func (b *Bridge) TryPublish(name string, payload []byte, p Pub) error {
	if sent, err := b.publishNow(name, payload, p); sent || err != nil {
		return err
	}
	m := outboxMessage(name, payload, p)
	if err := b.makeRoomForTry(&m); err != nil {
		return err
	}
	b.tryQueued.Add(1)
	if !b.writer.put(appendReq{m: m}) {
		b.tryQueued.Add(-1)
		return ErrClosed
	}
	return nil
}

// makeRoomForTry keeps the TryPublish messages waiting for the writer within
// bounds: under RejectNew the outbox's own (counting what waits), and
// maxTryQueue under both policies.
func (b *Bridge) makeRoomForTry(m *outbox.Message) error {
	queued := b.tryQueued.Load()
	if b.s.obOverflow == outbox.RejectNew {
		st := b.obStats.Load()
		if st.Pending+int(queued) >= b.s.obMaxCount || queued >= maxTryQueue {
			b.ctr.publishErrors.Add(1)
			return fmt.Errorf("%w: TryPublish %s: %d messages stored and %d waiting for the disk (limit %d)",
				outbox.ErrFull, m.Topic, st.Pending, queued, b.s.obMaxCount)
		}
		return nil
	}
	if queued < maxTryQueue {
		return nil
	}
	if _, ok := b.writer.removeFirst(func(r *appendReq) bool { return r.w == nil }); ok {
		b.tryQueued.Add(-1)
		b.ctr.droppedBeforeOutbox.Add(1)
		b.log.Debug("bridge: disk lagging; oldest waiting publication dropped", "topic", m.Topic)
	}
	return nil
}

// roomMark is where WaitRoom lets a producer go on: half of maxTryQueue,
// so a producer that waits for room never meets the bound.
const roomMark = maxTryQueue / 2

// appended counts n TryPublish messages as stored and wakes WaitRoom's
// waiters when that made room. Sequentially consistent atomics: WaitRoom
// stores roomWanted before it loads tryQueued, this stores tryQueued before
// it loads roomWanted, so one of the two sees the other and no wake is lost.
func (b *Bridge) appended(n int64) {
	b.tryQueued.Add(-n)
	if n > 0 && b.roomWanted.Load() && b.tryQueued.Load() < roomMark {
		b.roomWanted.Store(false)
		_ = b.l.Post(func() { b.roomWQ.WakeAll() })
	}
}

// WaitRoom waits until TryPublish has room for a burst: until fewer than
// half of the messages TryPublish may keep in memory wait for the outbox.
// A producer that can hold back — a task reading a serial port, whose
// receive buffer then holds the rest — calls it between batches, so a burst
// goes at the disk's pace instead of meeting the bound, where the oldest
// waiting messages are dropped (outbox.DropOldest) or new ones refused
// (outbox.RejectNew). It returns at once when there is room, and ErrClosed
// once the bridge has ended.
func (b *Bridge) WaitRoom(t *loop.Task) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	for {
		if b.state == ended {
			return ErrClosed
		}
		if b.tryQueued.Load() < roomMark {
			return nil
		}
		// Announced only now, so a producer with room costs the writer no
		// Post; looked at again after the announcement (see appended).
		b.roomWanted.Store(true)
		if b.tryQueued.Load() < roomMark {
			return nil
		}
		if err := b.roomWQ.Wait(t); err != nil {
			return err
		}
	}
}

func outboxMessage(name string, payload []byte, p Pub) outbox.Message {
	return outbox.Message{Topic: name, Payload: payload, QoS: p.QoS, Retain: p.Retain, Latest: p.Latest, MaxAge: p.MaxAge}
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
	b.send0(b.topics.Errors(), p, false)
}

// send0 sends a QoS 0 message if a connection is up, else counts it
// dropped.
func (b *Bridge) send0(name string, payload []byte, retain bool) {
	if !b.sendDirect(name, payload, 0, retain) {
		b.st.droppedQoS0++
	}
}

// sendDirect hands a publication to the I/O worker for the current
// connection, without the outbox. It reports false when there is no
// connection (or too much is queued already).
func (b *Bridge) sendDirect(name string, payload []byte, qos byte, retain bool) bool {
	c := b.conn
	if c == nil || c.down || b.ioQueued.Load() >= maxIOQueue {
		return false
	}
	b.ioQueued.Add(1)
	if !b.io.put(ioOp{c: c, topic: name, payload: payload, qos: qos, retain: retain}) {
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
	m outbox.Message
	w *pubWait // nil for TryPublish
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
		tries := int64(0)
		for i := range reqs {
			r := &reqs[i]
			_, err := b.ob.Append(r.m)
			if err != nil {
				b.ctr.publishErrors.Add(1)
				if r.w == nil {
					b.log.Warn("bridge: publication not queued", "topic", r.m.Topic, "err", err)
				}
			}
			if r.w != nil {
				waits = append(waits, r.w)
				errs = append(errs, err)
			} else {
				tries++
			}
			*r = appendReq{}
		}
		b.refreshOutboxStats()
		b.appended(tries)
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
				sent = true
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
			_ = b.l.Post(b.notify) // caught up: counters (sent, acknowledged) are final for now
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
		select {
		case <-c.quit:
			return // the acker finishes the window
		default:
		}
		msgs, err := b.ob.Next(b.s.inflight)
		if err != nil {
			b.log.Error("bridge: reading the outbox", "err", err)
			c.fail(err)
			return
		}
		if len(msgs) == 0 {
			b.refreshOutboxStats() // expiries, if any, show at once
			select {
			case <-notify:
				continue
			case <-c.lost:
				return
			case <-c.quit:
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
// while Run runs; the task stops with the bridge, or with Unbind(topic).
func BindEvent[T any](b *Bridge, ev *primitives.Event[T], topic string, enc Encoder[T], p Pub) error {
	if err := b.checkPub(topic, p); err != nil {
		return err
	}
	if ev == nil || enc == nil {
		return fmt.Errorf("%w: BindEvent %s: nil event or encoder", ErrInvalid, topic)
	}
	b.addOutput(topic, b.start("bridge/event "+topic, func(t *loop.Task) error {
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
	}))
	return nil
}

// BindQueue publishes every item of q on topic, in order: for event
// streams, where every item counts. The task ends when q is closed and
// drained, when the bridge stops, or with Unbind(topic).
func BindQueue[T any](b *Bridge, q *primitives.Queue[T], topic string, enc Encoder[T], p Pub) error {
	if err := b.checkPub(topic, p); err != nil {
		return err
	}
	if q == nil || enc == nil {
		return fmt.Errorf("%w: BindQueue %s: nil queue or encoder", ErrInvalid, topic)
	}
	b.addOutput(topic, b.start("bridge/queue "+topic, func(t *loop.Task) error {
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
	}))
	return nil
}

func (b *Bridge) addOutput(topic string, j *job) {
	jobs := b.outputs[topic][:0]
	for _, o := range b.outputs[topic] {
		if !o.done() {
			jobs = append(jobs, o)
		}
	}
	b.outputs[topic] = append(jobs, j)
}

// Unbind stops every BindEvent and BindQueue binding that publishes on
// topic. What a binding's task was publishing at that moment may still go
// out; nothing later does. It fails with ErrInvalid when no binding
// publishes there.
func (b *Bridge) Unbind(topic string) error {
	jobs := b.outputs[topic]
	live := 0
	for _, j := range jobs {
		if !j.done() {
			live++
		}
		j.stop()
	}
	delete(b.outputs, topic)
	if live == 0 {
		return fmt.Errorf("%w: Unbind %q: no binding publishes there", ErrInvalid, topic)
	}
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
	if err := b.Publish(t, topic, payload, p); err != nil {
		if isInterrupt(err) {
			return err
		}
		b.log.Warn("bridge: publication failed", "topic", topic, "err", err)
	}
	return nil
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

// publishNow is the part of Publish and TryPublish that never waits: it
// checks the arguments, caches a state value, and sends what bypasses the
// outbox (Direct and QoS 0). sent reports that nothing is left for the
// outbox to do.
func (b *Bridge) publishNow(name string, payload []byte, p Pub) (sent bool, err error) {
	if err := b.checkPub(name, p); err != nil {
		return false, err
	}
	b.cacheState(name, payload, p)
	switch {
	case p.Direct:
		if !b.sendDirect(name, payload, p.QoS, p.Retain) {
			return true, ErrNotConnected
		}
		return true, nil
	case p.QoS == 0:
		b.send0(name, payload, p.Retain)
		return true, nil
	}
	return false, nil
}
