package clients

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// PahoOptions configure a Go MQTT client. Zero values mean paho's
// defaults, except where noted.
type PahoOptions struct {
	// URL of the broker: tcp://127.0.0.1:port or ssl://127.0.0.1:port.
	URL string
	// ClientID; default a random "it-…" id.
	ClientID           string
	Username, Password string
	TLS                *tls.Config
	// Persistent turns clean session off, so the broker keeps the session
	// (subscriptions, queued QoS 1/2 messages) while the client is away.
	Persistent bool
	// KeepAlive and PingTimeout: how soon a silent broker is noticed
	// (paho: 30 s and 10 s).
	KeepAlive, PingTimeout time.Duration
	// ConnectTimeout; default 10 s.
	ConnectTimeout time.Duration
	// AutoReconnect with at most MaxReconnectInterval between attempts.
	AutoReconnect        bool
	MaxReconnectInterval time.Duration
}

// Paho is a connected paho client whose received messages go to
// collectors: one per Subscribe, and All for everything (including
// messages of a persistent session delivered before any Subscribe).
type Paho struct {
	c   paho.Client
	all *Collector

	mu       sync.Mutex
	subs     []pahoSub
	lost     []Lost
	connects []time.Time
	changed  chan struct{}
}

// Lost is one connection loss as paho reported it.
type Lost struct {
	At     time.Time
	Reason error // e.g. "pingresp not received, disconnecting"
}

type pahoSub struct {
	filter string
	c      *Collector
}

// Dial connects a client and returns the connection error as is (a refused
// password, a rejected certificate). The caller closes the client.
func Dial(o PahoOptions) (*Paho, error) {
	p := &Paho{all: NewCollector(), changed: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(o.URL)
	id := o.ClientID
	if id == "" {
		id = "it-" + rand.Text()[:12]
	}
	// MQTT 3.1.1 only: paho would retry a refused connection as 3.1.
	opts.SetClientID(id).SetCleanSession(!o.Persistent).SetOrderMatters(true).SetProtocolVersion(4)
	opts.SetUsername(o.Username).SetPassword(o.Password)
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	if o.KeepAlive > 0 {
		opts.SetKeepAlive(o.KeepAlive)
	}
	if o.PingTimeout > 0 {
		opts.SetPingTimeout(o.PingTimeout)
	}
	ct := o.ConnectTimeout
	if ct == 0 {
		ct = 10 * time.Second
	}
	opts.SetConnectTimeout(ct)
	opts.SetAutoReconnect(o.AutoReconnect)
	if o.MaxReconnectInterval > 0 {
		opts.SetMaxReconnectInterval(o.MaxReconnectInterval)
	}
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { p.deliver(m) })
	opts.SetOnConnectHandler(func(paho.Client) { p.event(func() { p.connects = append(p.connects, time.Now()) }) })
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		p.event(func() { p.lost = append(p.lost, Lost{time.Now(), err}) })
	})
	p.c = paho.NewClient(opts)
	tok := p.c.Connect()
	if !tok.WaitTimeout(ct + 5*time.Second) {
		p.c.Disconnect(0)
		return nil, fmt.Errorf("connect to %s: no answer within %v", o.URL, ct+5*time.Second)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.URL, err)
	}
	// paho runs the on-connect handler on its own goroutine: wait for it,
	// so Events counts this first connection.
	if err := p.await(5*time.Second, func() bool { return len(p.connects) > 0 }); err != nil {
		p.c.Disconnect(0)
		return nil, fmt.Errorf("connect to %s: on-connect handler not called: %w", o.URL, err)
	}
	return p, nil
}

// Connect is Dial that fails the test on error and disconnects at cleanup.
func Connect(t testing.TB, o PahoOptions) *Paho {
	t.Helper()
	p, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func (p *Paho) event(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// deliver hands a message to All and to every subscription it matches.
// Subscriptions are made without paho routes, so every message comes
// here, in order.
func (p *Paho) deliver(m paho.Message) {
	msg := Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), QoS: m.Qos(), Retained: m.Retained(), At: time.Now()}
	p.all.Add(msg)
	p.mu.Lock()
	subs := append([]pahoSub(nil), p.subs...)
	p.mu.Unlock()
	for _, s := range subs {
		if Match(s.filter, msg.Topic) {
			s.c.Add(msg)
		}
	}
}

// Client is the underlying paho client.
func (p *Paho) Client() paho.Client { return p.c }

// All collects every message the client received.
func (p *Paho) All() *Collector { return p.all }

// SubscribeCode subscribes and returns the broker's SUBACK code (the
// granted QoS, or 0x80 for a refusal) with a collector for the filter.
func (p *Paho) SubscribeCode(t testing.TB, filter string, qos byte) (byte, *Collector) {
	t.Helper()
	c := NewCollector()
	p.mu.Lock()
	p.subs = append(p.subs, pahoSub{filter, c})
	p.mu.Unlock()
	tok := p.c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("subscribe %s: no SUBACK within 10s", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	code, ok := tok.(*paho.SubscribeToken).Result()[filter]
	if !ok {
		t.Fatalf("subscribe %s: SUBACK without a code for the filter", filter)
	}
	return code, c
}

// Subscribe subscribes and fails the test unless the broker grants it.
func (p *Paho) Subscribe(t testing.TB, filter string, qos byte) *Collector {
	t.Helper()
	code, c := p.SubscribeCode(t, filter, qos)
	if code > 2 {
		t.Fatalf("subscribe %s: broker refused it (SUBACK 0x%02x)", filter, code)
	}
	return c
}

// Publish publishes and waits (10 s) for the broker's acknowledgement at
// QoS 1 and 2, or for the write at QoS 0; it fails the test otherwise.
func (p *Paho) Publish(t testing.TB, topic string, qos byte, retained bool, payload []byte) {
	t.Helper()
	tok := p.c.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("publish %s: not acknowledged within 10s", topic)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// Close disconnects (a clean DISCONNECT when connected). Safe to repeat.
func (p *Paho) Close() {
	if p.c.IsConnectionOpen() {
		p.c.Disconnect(250)
	} else {
		p.c.Disconnect(0)
	}
}

// Events counts connection losses and (re)connections so far.
func (p *Paho) Events() (lost, connects int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lost), len(p.connects)
}

// AwaitLost waits until the client has lost its connection more than
// `after` times (pass Events' lost count from before the fault) and
// returns that loss.
func (p *Paho) AwaitLost(after int, timeout time.Duration) (Lost, error) {
	var l Lost
	err := p.await(timeout, func() bool {
		if len(p.lost) > after {
			l = p.lost[after]
			return true
		}
		return false
	})
	return l, err
}

// AwaitConnects waits until the client has connected more than `after`
// times (the first connection counts) and returns when that happened.
func (p *Paho) AwaitConnects(after int, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := p.await(timeout, func() bool {
		if len(p.connects) > after {
			at = p.connects[after]
			return true
		}
		return false
	})
	return at, err
}

func (p *Paho) await(timeout time.Duration, cond func() bool) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok, ch := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("after %v: %w", timeout, ErrTimeout)
		}
	}
}
