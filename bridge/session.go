package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/loop"
)

// This file is the connection's life: connecting on the back-off
// schedule, failing over and returning, setting each session up, leaving
// it.

// manage is the connection loop.
func (b *Bridge) manage(t *loop.Task) error {
	round := 0
	var down time.Time // when the current outage began
	var c *conn
	for {
		if c == nil {
			if down.IsZero() {
				down = b.l.Now()
			}
			var err error
			c, err = b.connectRange(t, 0, len(b.brokers))
			if err != nil {
				if isInterrupt(err) {
					return err
				}
				outage := b.l.Now().Sub(down)
				d := b.s.backoff.Delay(round, outage, b.s.jitter())
				round++
				b.log.Warn("bridge: no broker reachable; retrying", "in", d.Round(time.Millisecond), "round", round,
					"outage", outage.Round(time.Second), "err", err)
				if err := t.Sleep(d); err != nil {
					return err
				}
				continue
			}
			round, down = 0, time.Time{}
		}
		next, err := b.serve(t, c)
		if err != nil {
			return err
		}
		c = next
	}
}

// connectRange tries brokers from..to-1 in order and returns the first
// connection made.
func (b *Bridge) connectRange(t *loop.Task, from, to int) (*conn, error) {
	var errs []error
	for i := from; i < to; i++ {
		c := b.newConn(i)
		_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.connect(ctx)
		})
		if err == nil {
			return c, nil
		}
		if isInterrupt(err) {
			c.abandon()
			return nil, err
		}
		b.ctr.connectFailures.Add(1)
		b.notify()
		b.log.Info("bridge: connection attempt failed", "broker", b.brokers[i].url, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", b.brokers[i].url, err))
	}
	return nil, errors.Join(errs...)
}

// serve runs one connection: it sets the session up, then waits until the
// connection is lost (returning nil) or, on a broker other than the first,
// until a preferred broker accepts a connection (returning it, after
// leaving this one gracefully).
func (b *Bridge) serve(t *loop.Task, c *conn) (*conn, error) {
	b.conn = c
	b.st.connects++
	b.st.connectedAt = b.l.Now()
	if b.st.connects > 1 {
		b.st.reconnects++
	}
	if c.broker > 0 {
		b.st.failovers++
	}
	b.log.Info("bridge: connected", "broker", b.brokers[c.broker].url, "client_id", b.s.clientID)
	b.notify()
	if err := b.setup(t, c); err != nil {
		if isInterrupt(err) {
			return nil, err
		}
		b.log.Warn("bridge: session setup failed; reconnecting", "broker", b.brokers[c.broker].url, "err", err)
		c.fail(err)
	}
	for !c.down {
		if c.broker == 0 {
			if err := b.connWQ.Wait(t); err != nil {
				return nil, err
			}
			continue
		}
		err := loop.WaitFor(t, b.s.returnInterval, func(t *loop.Task) error {
			for !c.down {
				if err := b.connWQ.Wait(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			break
		}
		if !errors.Is(err, loop.ErrTimeout) || t.Cancelled() {
			return nil, err
		}
		better, err := b.connectRange(t, 0, c.broker)
		if err != nil {
			if isInterrupt(err) {
				return nil, err
			}
			continue
		}
		b.log.Info("bridge: preferred broker is back; switching", "from", b.brokers[c.broker].url, "to", b.brokers[better.broker].url)
		if err := b.retire(t, c, true); err != nil {
			better.abandon()
			return nil, err
		}
		return better, nil
	}
	b.log.Warn("bridge: connection lost", "broker", b.brokers[c.broker].url, "err", c.lostErr())
	if err := b.retire(t, c, false); err != nil {
		return nil, err
	}
	return nil, nil
}

// retire ends connection c: gracefully (see leave, then DISCONNECT) or
// after a loss, and waits for its sender to stop.
func (b *Bridge) retire(t *loop.Task, c *conn, graceful bool) error {
	c.retiring = true
	clean := false
	if graceful && !c.down {
		ok, err := b.leave(t, c)
		if err != nil {
			c.drop()
			b.connDown(c)
			return err
		}
		clean = ok
	}
	b.connDown(c)
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		c.end(clean)
		c.waitSender(ctx)
		return struct{}{}, nil
	})
	b.notify()
	return err
}

// leave prepares a graceful end of c: the sender stops taking messages
// from the outbox and waits until its in-flight window is acknowledged
// (recorded in the outbox), then "offline" is published, retained, and
// acknowledged — the node's last word. It reports whether that worked, so
// that the caller may DISCONNECT; if the link is broken the caller drops it
// instead, and the broker publishes the will. An interruption (the shutdown
// bound) is returned.
func (b *Bridge) leave(t *loop.Task, c *conn) (bool, error) {
	c.stopSending()
	if _, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		c.waitSender(ctx)
		return struct{}{}, nil
	}); err != nil {
		return false, err
	}
	if err := b.publishAwait(t, c, directPub{b.topics.Availability(), []byte(payloadOffline), 1, true}); err != nil {
		if isInterrupt(err) {
			return false, err
		}
		b.log.Warn("bridge: \"offline\" not published; dropping the link so that the broker publishes the will", "err", err)
		return false, nil
	}
	return true, nil
}

// end closes c off the loop: with a DISCONNECT when clean (the broker
// then discards the will), else by dropping the socket.
func (c *conn) end(clean bool) {
	if clean {
		c.disconnect(uint(shutdownGrace / time.Millisecond))
		return
	}
	c.drop()
}

// setup sends the unsubscriptions left from while offline, subscribes
// everything, publishes "online", starts the outbox sender, the echo check
// and Home Assistant's announcement: what every connect does.
func (b *Bridge) setup(t *loop.Task, c *conn) error {
	if err := b.unsubscribeQueued(t, c); err != nil {
		return err
	}
	filters := map[string]byte{}
	for f, fs := range b.filters {
		filters[f] = fs.qos
	}
	if err := b.subscribe(t, c, filters); err != nil {
		return err
	}
	if err := b.publishAwait(t, c, directPub{b.topics.Availability(), []byte(payloadOnline), 1, true}); err != nil {
		return err
	}
	c.senderUp.Store(true)
	go b.sender(c)
	c.ready = true
	b.subWQ.WakeAll()
	b.notify()
	b.start("bridge/echo", func(t *loop.Task) error { return b.checkEcho(t, c) })
	if b.ha != nil {
		b.haOnConnect(c)
	}
	return nil
}

// publishAwait publishes straight through c (not through the outbox) and
// awaits the broker's acknowledgements: for "online", "offline", the
// discovery configs and the states sent again after them, which are all
// published again on every connect. The publications go through the I/O
// worker like every direct one, so they keep the order the loop made them
// in: a final "offline" cannot overtake an "online" queued just before.
func (b *Bridge) publishAwait(t *loop.Task, c *conn, msgs ...directPub) error {
	toks := make(chan []mqtt.Token, 1)
	if !b.io.put(ioOp{fn: func() {
		ts := make([]mqtt.Token, len(msgs))
		for i, m := range msgs {
			ts[i] = c.client.Publish(m.topic, m.qos, m.retain, m.payload)
		}
		toks <- ts
	}}) {
		return ErrClosed
	}
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		var ts []mqtt.Token
		select {
		case ts = <-toks:
		case <-ctx.Done():
			return struct{}{}, ctx.Err()
		}
		for _, tok := range ts {
			if err := c.await(ctx, tok); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// directPub is one publication that bypasses the outbox.
type directPub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// echoTimeout bounds the wait for a marker the node sent itself.
const echoTimeout = 5 * time.Second

// echoWait is one marker on its way back.
type echoWait struct {
	done bool
	wq   loop.WaitQueue
}

func (w *echoWait) finish() {
	w.done = true
	w.wq.WakeAll()
}

func (b *Bridge) echoTopic() string { return b.topics.Echo() }

// echo publishes a marker on the node's echo topic through c and waits, up
// to timeout, for the broker to deliver it back. It reports whether it
// came: the broker sends a client its packets' consequences in order, so
// when the marker arrives, every message the broker owed the node for what
// it did before (retained messages after a SUBSCRIBE) has arrived too.
func (b *Bridge) echo(t *loop.Task, c *conn, timeout time.Duration) (bool, error) {
	b.echoSeq++
	id := strconv.FormatUint(b.echoSeq, 10)
	w := &echoWait{}
	b.echoes[id] = w
	defer delete(b.echoes, id)
	// QoS 0: the marker needs no acknowledgement (the broker forwards one
	// client's publications in order whatever their QoS), and it keeps the
	// marker out of the packet ids of the session's in-flight messages.
	if err := b.publishAwait(t, c, directPub{b.echoTopic(), []byte(id), 0, false}); err != nil {
		return false, err
	}
	err := loop.WaitFor(t, timeout, func(t *loop.Task) error {
		for !w.done {
			if err := w.wq.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && (t.Cancelled() || !isInterrupt(err)) {
		return false, err
	}
	return err == nil, nil
}

// routeEcho ends the wait of the marker that came back.
func (b *Bridge) routeEcho(d *delivery) {
	if w := b.echoes[string(d.Payload)]; w != nil {
		w.finish()
	}
}

// Echo states, in Stats.Echo.
const (
	echoOK      = "ok"
	echoMissing = "missing"
)

// checkEcho sends the connection's first marker: if it never comes back,
// the broker accepted the node's subscriptions but withholds what is
// published on them — what Mosquitto's acl_file does to a subscription its
// ACL denies (MQTT 3.1.1 has no way to say so). Nothing else would show
// it: commands would simply never arrive.
func (b *Bridge) checkEcho(t *loop.Task, c *conn) error {
	ok, err := b.echo(t, c, echoTimeout)
	if err != nil {
		if isInterrupt(err) && t.Cancelled() {
			return err
		}
		return nil // the connection is going: the next one checks again
	}
	if b.conn != c {
		return nil
	}
	switch {
	case ok && b.st.echo == echoMissing:
		b.log.Info("bridge: the broker delivers the node's own topics again", "topic", b.echoTopic())
	case !ok:
		b.log.Error("bridge: the broker does not deliver the node's own topics back; its ACL probably withholds "+
			"messages on subscriptions it granted (Mosquitto's acl_file does that silently): check the read access "+
			"of this node's user to "+b.topics.Base()+"/"+b.Node()+"/#",
			"topic", b.echoTopic(), "waited", echoTimeout, "client_id", b.s.clientID)
	}
	b.st.echo = echoMissing
	if ok {
		b.st.echo = echoOK
	}
	b.notify()
	return nil
}
