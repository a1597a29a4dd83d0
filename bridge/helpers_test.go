package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgeagent/edgeagent/loop"
)

// testTimeout bounds every scenario: generous, since it only matters when
// something is broken (the scenarios wait on real signals, never on time).
const testTimeout = 20 * time.Second

// testBroker is an in-process mochi broker on a loopback port.
type testBroker struct {
	srv  *mochi.Server
	addr string // host:port
	hook *authHook
	once sync.Once
}

type brokerOpts struct {
	addr string      // "" for 127.0.0.1:0
	tls  *tls.Config // nil for plain TCP
	user string      // when set, only user with password may connect
	pass string
	deny string // a client id refused until testBroker.allow
}

// authHook lets everyone in, or only one user when user is set. (mochi's
// own auth hooks would pull a YAML module in just for this.)
// It also signals every PUBACK a client sends, for tests that must know an
// acknowledgement reached the broker.
type authHook struct {
	mochi.HookBase
	user, pass string

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every PUBACK and SUBSCRIBE
	deny      string
	published []packets.Packet // publications under homeassistant/, as sent
}

func (h *authHook) OnSubscribed(*mochi.Client, packets.Packet, []byte) { h.signal() }

func (h *authHook) signal() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// waitSubscribed waits until client id holds a subscription to filter.
func (tb *testBroker) waitSubscribed(tk *loop.Task, id, filter string) error {
	h := tb.hook
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
		for {
			h.mu.Lock()
			ch := h.changed
			h.mu.Unlock()
			if cl, ok := tb.srv.Clients.Get(id); ok {
				if _, ok := cl.State.Subscriptions.Get(filter); ok {
					return struct{}{}, nil
				}
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return struct{}{}, fmt.Errorf("%s never subscribed to %s: %w", id, filter, ctx.Err())
			}
		}
	})
	return err
}

func (h *authHook) OnPublished(_ *mochi.Client, pk packets.Packet) {
	if !strings.HasPrefix(pk.TopicName, "homeassistant/") {
		return
	}
	h.mu.Lock()
	h.published = append(h.published, pk.Copy(false))
	h.mu.Unlock()
}

// takePublished returns the publications under homeassistant/ the broker
// has handled so far, and forgets them.
func (tb *testBroker) takePublished() []packets.Packet {
	tb.hook.mu.Lock()
	defer tb.hook.mu.Unlock()
	p := tb.hook.published
	tb.hook.published = nil
	return p
}

// allow lets in the client refused by brokerOpts.deny.
func (tb *testBroker) allow() {
	tb.hook.mu.Lock()
	tb.hook.deny = ""
	tb.hook.mu.Unlock()
}

func (h *authHook) ID() string { return "test-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnQosComplete || b == mochi.OnPublished || b == mochi.OnSubscribed
}

func (h *authHook) OnQosComplete(_ *mochi.Client, pk packets.Packet) {
	if pk.FixedHeader.Type == packets.Puback {
		h.signal()
	}
}

// waitAcked waits until the broker holds no unacknowledged message with
// payload on topic for client id: its PUBACK has arrived.
func (tb *testBroker) waitAcked(tk *loop.Task, id, topic, payload string) error {
	h := tb.hook
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
		for {
			h.mu.Lock()
			ch := h.changed
			h.mu.Unlock()
			cl, ok := tb.srv.Clients.Get(id)
			if !ok {
				return struct{}{}, fmt.Errorf("no client %s", id)
			}
			pending := false
			for _, p := range cl.State.Inflight.GetAll(false) {
				if p.TopicName == topic && string(p.Payload) == payload {
					pending = true
				}
			}
			if !pending {
				return struct{}{}, nil
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return struct{}{}, fmt.Errorf("%s %q to %s still unacknowledged: %w", topic, payload, id, ctx.Err())
			}
		}
	})
	return err
}

func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	h.mu.Lock()
	denied := h.deny != "" && cl.ID == h.deny
	h.mu.Unlock()
	if denied {
		return false
	}
	return h.user == "" || string(pk.Connect.Username) == h.user && string(pk.Connect.Password) == h.pass
}

func (h *authHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

func startBroker(t testing.TB, o brokerOpts) *testBroker {
	t.Helper()
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	srv := mochi.New(&mochi.Options{
		InlineClient: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	hook := &authHook{user: o.user, pass: o.pass, deny: o.deny, changed: make(chan struct{})}
	err := srv.AddHook(hook, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &safeTCP{TCP: listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.addr, TLSConfig: o.tls}), srv: srv}
	// A port just freed by a stopped broker may take a moment to be
	// reusable on some systems: retry the listen briefly.
	for i := 0; ; i++ {
		err = srv.AddListener(l)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("broker listen on %s: %v", o.addr, err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{srv: srv, addr: l.Address(), hook: hook}
	t.Cleanup(tb.stop)
	return tb
}

func (tb *testBroker) url() string { return "tcp://" + tb.addr }

func (tb *testBroker) stop() { tb.once.Do(func() { _ = tb.srv.Close() }) }

// kick drops a client's connection as a network failure would: no
// DISCONNECT, so the broker publishes its will.
func (tb *testBroker) kick(t testing.TB, clientID string) {
	t.Helper()
	cl, ok := tb.srv.Clients.Get(clientID)
	if !ok {
		t.Fatalf("kick: no client %q", clientID)
	}
	cl.Stop(errors.New("kicked by test"))
}

// retained returns the retained payload of topic on the broker.
func (tb *testBroker) retained(topic string) ([]byte, bool) {
	for _, m := range tb.srv.Topics.Messages(topic) {
		if m.TopicName == topic {
			return m.Payload, true
		}
	}
	return nil, false
}

// safeTCP is mochi's TCP listener with a Close that cannot deadlock:
// mochi's own takes the clients' read lock twice (Clients.GetByListener
// calls Len), so a client leaving at that moment, which waits for the
// write lock in between, blocks both for ever. This Close lists the
// clients under one read lock.
type safeTCP struct {
	*listeners.TCP
	srv *mochi.Server
}

func (l *safeTCP) Close(listeners.CloseFn) {
	l.TCP.Close(func(string) {}) // stops accepting
	for _, cl := range l.srv.Clients.GetAll() {
		if cl.Net.Listener == l.ID() && !cl.Closed() {
			_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// testClient is a raw paho client for the other side of the scenarios.
type testClient struct {
	c mqtt.Client
}

func newTestClient(t testing.TB, url, id string, setup ...func(*mqtt.ClientOptions)) *testClient {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).SetProtocolVersion(4)
	o.SetConnectTimeout(5 * time.Second)
	for _, f := range setup {
		f(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatalf("test client %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return &testClient{c: c}
}

// sub subscribes and returns a channel of what arrives (buffered; a test
// that lets it fill up blocks paho, so read what you subscribe to).
func (tc *testClient) sub(t testing.TB, filter string, qos byte) <-chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 1024)
	tok := tc.c.Subscribe(filter, qos, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func (tc *testClient) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := tc.c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// recv waits, off the loop, for the next message on ch.
func recv(tk *loop.Task, ch <-chan mqtt.Message) (mqtt.Message, error) {
	return loop.Offload(tk, func(ctx context.Context) (mqtt.Message, error) {
		select {
		case m := <-ch:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

// recvPayload waits for the next message on ch and returns its payload.
func recvPayload(tk *loop.Task, ch <-chan mqtt.Message) (string, error) {
	m, err := recv(tk, ch)
	if err != nil {
		return "", err
	}
	return string(m.Payload()), nil
}

// expect waits for the next message on ch and checks its payload.
func expect(tk *loop.Task, ch <-chan mqtt.Message, want string) error {
	got, err := recvPayload(tk, ch)
	if err != nil {
		return fmt.Errorf("waiting for %q: %w", want, err)
	}
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// offload runs a blocking test step off the loop.
func offload(tk *loop.Task, fn func()) error {
	_, err := loop.Offload(tk, func(context.Context) (struct{}, error) {
		fn()
		return struct{}{}, nil
	})
	return err
}

// waitStats waits until pred holds for the bridge's Stats, woken by the
// bridge's own notifications (no polling on a timer).
func waitStats(tk *loop.Task, b *Bridge, pred func(Stats) bool) error {
	for !pred(b.Stats()) {
		if err := b.changed.Wait(tk); err != nil {
			return fmt.Errorf("waiting for stats (now %+v): %w", b.Stats(), err)
		}
	}
	return nil
}

// logBuf collects a test's logs, shown only when the test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (lb *logBuf) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.Write(p)
}

func (lb *logBuf) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.String()
}

func testLogger(t testing.TB) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// fastOpts are the options every test bridge uses: a state directory of
// the test's, short back-off, fast shutdown.
func fastOpts(t testing.TB, node string, brokers ...string) []Option {
	return []Option{
		WithBrokers(brokers...),
		WithNode(node),
		WithStateDir(t.TempDir()),
		WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		WithConnectTimeout(2 * time.Second),
		WithKeepAlive(5 * time.Second),
		WithShutdownTimeout(2 * time.Second),
		WithHABirthDelay(0),
	}
}

// scenario runs body as a task next to the bridge's Run, on a loop of its
// own; the bridge is set up by setup (before the loop runs) and shut down
// when body returns.
func scenario(t *testing.T, opts []Option, setup func(b *Bridge) error, body func(tk *loop.Task, b *Bridge) error) (*Bridge, *logBuf) {
	t.Helper()
	log, lb := testLogger(t)
	l := loop.New(loop.WithLogger(log))
	b, err := New(l, append([]Option{WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		if err := setup(b); err != nil {
			_ = b.Close()
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		bt := g.Go("bridge", b.Run)
		err := loop.WaitFor(tk, testTimeout, func(tk *loop.Task) error { return body(tk, b) })
		bt.Cancel()
		if werr := g.Wait(tk); werr != nil && err == nil {
			err = werr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, lb
}

// mustContain fails when s lacks any of subs.
func mustContain(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}
