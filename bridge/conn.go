package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/loop"
)

// conn is one MQTT connection: one paho client, used for one connection
// and dropped after it. Paho's own reconnection is off, so back-off, broker
// order and the return to the preferred broker are the bridge's; a fresh
// client per connection also means paho never replays a publish of its
// own store, which would duplicate the outbox's.
type conn struct {
	b      *Bridge
	broker int
	client mqtt.Client

	connDone chan struct{} // closed when the CONNECT has completed, one way or the other

	lost     chan struct{} // closed when the connection is gone, for whatever reason
	lostOnce sync.Once
	errMu    sync.Mutex
	err      error

	senderUp   atomic.Bool   // the outbox sender was started
	senderDone chan struct{} // closed when it has stopped
	quit       chan struct{} // closed to stop the sender once its window is acknowledged
	quitOnce   sync.Once

	netMu sync.Mutex
	nc    net.Conn // the network connection, to drop it without a DISCONNECT

	// Loop side.
	down     bool // the loop knows the connection is gone
	ready    bool // setup finished
	retiring bool // being left on purpose: its "offline" is ours
}

func (b *Bridge) newConn(i int) *conn {
	c := &conn{b: b, broker: i, lost: make(chan struct{}), connDone: make(chan struct{}), senderDone: make(chan struct{}),
		quit: make(chan struct{})}
	br := b.brokers[i]
	o := mqtt.NewClientOptions()
	o.AddBroker("tcp://" + br.host) // the scheme is ours to interpret: see dial
	o.SetClientID(b.s.clientID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(b.s.cleanSession)
	o.SetKeepAlive(b.s.keepAlive)
	o.SetPingTimeout(min(b.s.keepAlive/2, b.s.connectTimeout))
	o.SetConnectTimeout(b.s.connectTimeout)
	o.SetWriteTimeout(b.s.keepAlive)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetResumeSubs(false)
	// Acknowledge only what the loop accepted (see Policy).
	o.SetAutoAckDisabled(true)
	// The handler only Posts, so it never blocks and keeps arrival order.
	o.SetOrderMatters(true)
	o.SetBinaryWill(b.topics.Availability(), []byte(payloadOffline), 1, true)
	if b.s.username != "" {
		o.SetUsername(b.s.username)
		o.SetPassword(b.password.reveal())
	}
	o.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
		nc, err := b.dialer.Dial(context.Background(), br.host, br.tls, br.url)
		if err != nil {
			return nil, err
		}
		ac := newAliveConn(nc)
		go ac.watch(b.s.keepAlive, c.connDone, func(silence time.Duration) {
			c.fail(fmt.Errorf("no packet from the broker for %v (keepalive %v): connection dead", silence.Round(time.Millisecond), b.s.keepAlive))
			_ = ac.Close()
		})
		c.netMu.Lock()
		c.nc = ac
		c.netMu.Unlock()
		return ac, nil
	})
	o.SetDefaultPublishHandler(c.onMessage)
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { c.fail(err) })
	c.client = mqtt.NewClient(o)
	return c
}

// connect makes the connection; it runs off the loop.
func (c *conn) connect(ctx context.Context) error {
	tok := c.client.Connect()
	go func() {
		<-tok.Done()
		close(c.connDone)
	}()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandon gets rid of a connection the loop stopped waiting for: whenever
// its CONNECT completes, the client disconnects.
func (c *conn) abandon() {
	c.markLost(errors.New("abandoned"))
	go func() {
		<-c.connDone
		c.client.Disconnect(0)
	}()
}

// onMessage is paho's handler for every message (paho's goroutine): it
// hands the message to the loop and returns, never blocking paho. A QoS 0
// message goes through the bridge's inlet, which holds at most
// WithQoS0Backlog of them for a loop that is behind (a hog, a slow disk);
// past that it is dropped here and counted for every binding it was for. A
// QoS 1 or 2 message is never dropped: it stays unacknowledged until the
// loop has taken it, so the broker's in-flight window bounds how many wait.
func (c *conn) onMessage(_ mqtt.Client, m mqtt.Message) {
	msg := Message{
		Topic:     m.Topic(),
		Payload:   m.Payload(),
		QoS:       m.Qos(),
		Retained:  m.Retained(),
		Duplicate: m.Duplicate(),
	}
	b := c.b
	b.ctr.received.Add(1)
	if msg.QoS == 0 {
		if err := b.inlet0.TryPost(func() { b.route(c, msg, m) }); errors.Is(err, loop.ErrInletFull) {
			b.shed(msg.Topic)
		}
	} else {
		n := b.ctr.queuedQoS1.Add(1)
		for h := b.ctr.maxQueuedQoS1.Load(); n > h && !b.ctr.maxQueuedQoS1.CompareAndSwap(h, n); h = b.ctr.maxQueuedQoS1.Load() {
		}
		if err := b.l.Post(func() {
			b.ctr.queuedQoS1.Add(-1)
			b.route(c, msg, m)
		}); err != nil {
			// The loop is gone: the message is not acknowledged, so a
			// persistent session gets it again.
			b.ctr.queuedQoS1.Add(-1)
		}
	}
	if h := b.s.onMessage; h != nil {
		h(msg)
	}
}

// markLost records that the connection is gone (goroutine side).
func (c *conn) markLost(err error) {
	c.lostOnce.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		close(c.lost)
	})
}

func (c *conn) lostErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// fail reports a broken connection from any goroutine: paho's
// connection-lost callback, a failed publish. The client is closed and the
// loop told.
func (c *conn) fail(err error) {
	first := false
	c.lostOnce.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		close(c.lost)
		first = true
	})
	if !first {
		return
	}
	go c.client.Disconnect(0)
	b := c.b
	_ = b.l.Post(func() { b.connDown(c) })
}

// drop ends the connection without a DISCONNECT, by closing the socket
// under paho: the broker then publishes the will, as it should when the
// node could not say "offline" itself. Any goroutine.
func (c *conn) drop() {
	c.markLost(errors.New("dropped"))
	c.netMu.Lock()
	nc := c.nc
	c.netMu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// stopSending tells the sender to take no more messages from the outbox;
// it stops once its window is acknowledged (or the connection is lost).
func (c *conn) stopSending() { c.quitOnce.Do(func() { close(c.quit) }) }

// disconnect leaves gracefully: DISCONNECT (so the broker does not publish
// the will), waiting up to quiesce ms. Off the loop.
func (c *conn) disconnect(quiesce uint) {
	c.markLost(errors.New("disconnected"))
	c.client.Disconnect(quiesce)
}

// waitSender waits, off the loop, until the outbox sender of c stopped.
func (c *conn) waitSender(ctx context.Context) {
	if !c.senderUp.Load() {
		return
	}
	select {
	case <-c.senderDone:
	case <-ctx.Done():
	}
}

// await waits, off the loop, for tok, the connection's loss or ctx.
func (c *conn) await(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-c.lost:
		if err := c.lostErr(); err != nil {
			return err
		}
		return errors.New("connection lost")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connDown is the loop's side of a loss (or of leaving on purpose).
func (b *Bridge) connDown(c *conn) {
	if c.down {
		return
	}
	c.down = true
	if b.conn == c {
		b.conn = nil
	}
	b.st.disconnectedAt = b.l.Now()
	b.subscriptionsDown()
	b.connWQ.WakeAll()
	b.notify()
}
