package bridge

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// After the broker restarts (losing every session), the bridge reconnects,
// subscribes again and marks itself online again.
func TestReconnectRestoresSubscriptions(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	addr := br.Addr()
	q := primitives.NewQueue[Message](4)
	opts := append(fastOpts(t, "n1", br.URL()), WithCleanSession(true))
	scenario(t, opts,
		func(b *Bridge) error { return b.Subscribe("edgeagent/n1/+/set", q, Sub{QoS: 1, WhenFull: Hold}) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			var br2 *bridgetest.Broker
			if err := offload(tk, func() {
				br.Stop()
				br2 = startBroker(t, brokerOpts{Addr: addr})
			}); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.Connected && s.Connects == 2 }); err != nil {
				return err
			}
			if p, ok := br2.Retained("edgeagent/n1/availability"); !ok || string(p) != "online" {
				return fmt.Errorf("availability on the new broker: %q %v, want online", p, ok)
			}
			var ext *bridgetest.Client
			if err := offload(tk, func() {
				ext = newTestClient(t, br2.URL(), "ext")
				ext.Pub(t, "edgeagent/n1/relay/set", 1, false, "ON")
			}); err != nil {
				return err
			}
			m, err := q.Get(tk)
			if err != nil || string(m.Payload) != "ON" || m.Topic != "edgeagent/n1/relay/set" {
				return fmt.Errorf("after reconnect: %s %q %v", m.Topic, m.Payload, err)
			}
			return nil
		})
}

// The node's will is "offline", retained, on its availability topic; it
// publishes "online" again after a reconnect, and "offline" when it shuts
// down. (Whether the broker sends the will when a link dies is the
// broker's business; mochi does not when it closed the link itself.)
func TestAvailabilityWillAndShutdown(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	avail := ext.Sub(t, "edgeagent/n1/availability", 1)
	scenario(t, fastOpts(t, "n1", br.URL()), nil, func(tk *loop.Task, b *Bridge) error {
		if err := expect(tk, avail, "online"); err != nil {
			return err
		}
		cl, ok := br.Srv.Clients.Get("n1")
		if !ok {
			return fmt.Errorf("bridge not among the broker's clients")
		}
		if w := cl.Properties.Will; w.TopicName != "edgeagent/n1/availability" || string(w.Payload) != "offline" || !w.Retain || w.Qos != 1 {
			return fmt.Errorf("will: %s %q retain=%v qos=%d", w.TopicName, w.Payload, w.Retain, w.Qos)
		}
		if err := offload(tk, func() { br.Kick(t, "n1") }); err != nil {
			return err
		}
		for {
			p, err := recvPayload(tk, avail)
			if err != nil {
				return fmt.Errorf("no online after the reconnect: %w", err)
			}
			if p == "online" {
				break
			}
		}
		return waitStats(tk, b, func(s Stats) bool { return s.Connected && s.Reconnects == 1 })
	})
	// Run has returned: "offline" is the last word, retained.
	if p, ok := br.Retained("edgeagent/n1/availability"); !ok || string(p) != "offline" {
		t.Fatalf("retained availability after shutdown: %q %v", p, ok)
	}
}

// A will the broker publishes late — after the new connection's "online",
// which happens when it notices the old link dead only after the new one
// came up — must not leave the node marked offline: the bridge answers an
// "offline" it reads while connected (simulated here by another client).
func TestAvailabilityLateWillAnswered(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	avail := ext.Sub(t, "edgeagent/n1/availability", 1)
	scenario(t, fastOpts(t, "n1", br.URL()), nil, func(tk *loop.Task, b *Bridge) error {
		if err := expect(tk, avail, "online"); err != nil {
			return err
		}
		if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/availability", 1, false, "offline") }); err != nil {
			return err
		}
		// The broker fans the "offline" out to the bridge and to us; the
		// bridge's answer may overtake the fan-out on its way to us, so the
		// two may come in either order — but both must come.
		var seen []string
		for range 2 {
			got, err := recvPayload(tk, avail)
			if err != nil {
				return fmt.Errorf("late will not answered (seen %q): %w", seen, err)
			}
			seen = append(seen, got)
		}
		if slices.Sort(seen); !slices.Equal(seen, []string{"offline", "online"}) {
			return fmt.Errorf("after the late will: %q, want offline and online", seen)
		}
		if p, _ := br.Retained("edgeagent/n1/availability"); string(p) != "online" {
			return fmt.Errorf("retained availability %q, want online", p)
		}
		return nil
	})
}

// Two brokers: the bridge fails over to the second when the first goes,
// keeps its bindings there, and returns to the first once it is back,
// leaving "offline" on the one it left.
func TestFailoverAndReturn(t *testing.T) {
	a := startBroker(t, brokerOpts{})
	bb := startBroker(t, brokerOpts{})
	addrA := a.Addr()
	q := primitives.NewQueue[Message](4)
	opts := append(fastOpts(t, "n1", a.URL(), bb.URL()), WithReturnInterval(20*time.Millisecond))
	scenario(t, opts,
		func(b *Bridge) error { return b.Subscribe("edgeagent/n1/cmd", q, Sub{QoS: 1, WhenFull: Hold}) },
		func(tk *loop.Task, b *Bridge) error {
			cmdVia := func(br *bridgetest.Broker, payload string) error {
				if err := offload(tk, func() {
					ext := newTestClient(t, br.URL(), "ext-"+payload)
					ext.Pub(t, "edgeagent/n1/cmd", 1, false, payload)
				}); err != nil {
					return err
				}
				m, err := q.Get(tk)
				if err != nil || string(m.Payload) != payload {
					return fmt.Errorf("command via %s: got %q %v, want %q", br.Addr(), m.Payload, err, payload)
				}
				return nil
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.Connected && s.Broker == a.URL() }); err != nil {
				return err
			}
			if err := cmdVia(a, "a1"); err != nil {
				return err
			}
			if err := offload(tk, a.Stop); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.Connected && s.Broker == bb.URL() }); err != nil {
				return err
			}
			if err := cmdVia(bb, "b1"); err != nil {
				return err
			}
			var a2 *bridgetest.Broker
			if err := offload(tk, func() { a2 = startBroker(t, brokerOpts{Addr: addrA}) }); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				return s.Connected && s.Broker == a.URL() && s.Connects == 3
			}); err != nil {
				return err
			}
			if err := cmdVia(a2, "a2"); err != nil {
				return err
			}
			if p, _ := bb.Retained("edgeagent/n1/availability"); string(p) != "offline" {
				return fmt.Errorf("availability left on the second broker: %q, want offline", p)
			}
			if p, _ := a2.Retained("edgeagent/n1/availability"); string(p) != "online" {
				return fmt.Errorf("availability on the first broker: %q, want online", p)
			}
			if s := b.Stats(); s.Failovers != 1 {
				return fmt.Errorf("failovers = %d, want 1", s.Failovers)
			}
			return nil
		})
}

// New reports every bad option, each error naming it.
func TestNewValidation(t *testing.T) {
	l := loop.New()
	t.Setenv("EMPTY_PW", "")
	_, err := New(l,
		WithBrokers("ws://x:1", "tcp://user:pw@x:1", "host-without-scheme"),
		WithBase("a/+"),
		WithKeepAlive(10*time.Millisecond),
		WithBackoff(time.Second, time.Millisecond),
		WithOutboxLimits(0, 1),
		WithUsername("u"),
		WithPasswordEnv("EMPTY_PW"),
		WithTLS(TLS{CertFile: "c.pem"}),
		WithInflight(0),
		WithHABirthTopic("homeassistant/#"),
		WithSlowBackoff(-time.Second, 0),
	)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`WithBrokers: broker "ws://x:1": unsupported scheme "ws"`,
		`WithBrokers: broker "tcp://user:xxxxx@x:1": credentials in the URL`,
		`WithBrokers: broker "host-without-scheme": no scheme`,
		`WithBase: base "a/+": wildcard '+'`,
		`WithKeepAlive: 10ms is shorter than 1s`,
		`WithBackoff: need 0 < min ≤ max`,
		`WithOutboxLimits: need positive bounds`,
		`WithPasswordEnv: $EMPTY_PW is not set or empty`,
		`WithTLS: CertFile and KeyFile go together`,
		`WithInflight: 0 is not in 1…65000`,
		`WithHABirthTopic: wildcard '#'`,
		`WithStateDir: no state directory given`,
		`WithSlowBackoff: need after ≥ 0 and max > 0`,
	} {
		mustContain(t, err.Error(), want)
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("a password shows in the error: %v", err)
	}
	_, err = New(l, WithBrokers("tcp://x"), WithNode("a/b"), WithStateDir(t.TempDir()))
	if err == nil {
		t.Fatal("node with '/' accepted")
	}
	mustContain(t, err.Error(), `WithNode: node "a/b": must be one topic level`)
	_, err = New(l, WithBrokers("tcp://x"), WithNode("n"), WithStateDir(t.TempDir()),
		WithBackoff(time.Second, 10*time.Second), WithSlowBackoff(time.Minute, 5*time.Second))
	if err == nil {
		t.Fatal("slow phase faster than the fast one accepted")
	}
	mustContain(t, err.Error(), `WithSlowBackoff: max 5s is below WithBackoff's max 10s`)
}
