package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
	"github.com/edgeagent/edgeagent/integration/pki"
	dockerclient "github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Self-tests of the harness against real Mosquitto containers.

// Messages published by each kind of client reach each kind of subscriber
// through the stock broker.
func TestHarnessStockPubSub(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := env.Start(t, mosquitto.Config{})
	t.Logf("figure: stock broker started and ready in %v", time.Since(start).Round(time.Millisecond))

	inside := b.Sub(t, "it/#", clients.QoS(1))
	onHost := clients.HostSub(t, b.Addr(), "it/#", clients.QoS(1))
	goClient := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
	viaPaho := goClient.Subscribe(t, "it/#", 1)

	b.Pub(t, "it/from-container", []byte("one"), clients.QoS(1))
	clients.HostPub(t, b.Addr(), "it/from host", []byte("two"), clients.QoS(1))
	goClient.Publish(t, "it/from-paho", 1, false, []byte("three\nwith a line break"))
	goClient.Publish(t, "it/empty", 1, false, nil)

	want := []string{`it/from-container "one"`, `it/from host "two"`, `it/from-paho "three\nwith a line break"`, `it/empty ""`}
	for name, c := range map[string]*clients.Collector{"mosquitto_sub in the container": inside.Collector, "mosquitto_sub on the host": onHost.Collector, "paho": viaPaho} {
		got := c.WaitCount(t, len(want), 10*time.Second)
		for i, m := range got {
			if s := fmt.Sprintf("%s %q", m.Topic, m.Payload); s != want[i] || m.QoS != 1 || m.Retained {
				t.Errorf("%s: message %d = %v, want %s at QoS 1, not retained", name, i, m, want[i])
			}
		}
	}
}

// A plain paho requester and responder through the stock broker at QoS 1:
// the broker's Nagle (Mosquitto's default, set_tcp_nodelay false) holds
// the reply behind the PUBACK until the client's delayed ACK, about 40 ms.
// This is the trap the bridge's TCP_QUICKACK avoids; the figure shows the
// harness runs the stock behaviour.
func TestHarnessStockNagleStall(t *testing.T) {
	b := env.Start(t, mosquitto.Config{})
	responder := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
	requester := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
	tok := responder.Client().Subscribe("rr/req", 1, func(c paho.Client, m paho.Message) {
		c.Publish("rr/reply", 1, false, m.Payload())
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("responder subscribe: %v", tok.Error())
	}
	replies := requester.Subscribe(t, "rr/reply", 1)

	const warmup, trips = 5, 60
	var rtts []time.Duration
	for i := range warmup + trips {
		payload := fmt.Sprint(i)
		start := time.Now()
		requester.Publish(t, "rr/req", 1, false, []byte(payload))
		replies.WaitFor(t, "reply "+payload, 10*time.Second, func(m clients.Message) bool { return string(m.Payload) == payload })
		if i >= warmup {
			rtts = append(rtts, time.Since(start))
		}
	}
	l := clients.Summarize(rtts)
	t.Logf("figure: plain paho QoS 1 request/reply via stock Mosquitto: %v", l)
	// Delayed ACKs are at least 40 ms on Linux: a median far below that
	// means the broker no longer runs the stock (Nagle on) behaviour.
	if l.P50 < 20*time.Millisecond {
		t.Errorf("p50 %v: no Nagle/delayed-ACK stall; is the broker still stock (no set_tcp_nodelay)?", l.P50)
	}
}

// Retained messages and a persistent session's queued QoS 1 messages
// survive a stop and a start on the same address.
func TestHarnessPersistence(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{Persistence: true})
	addr := b.Addr()

	sub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-persistent", Persistent: true})
	sub.Subscribe(t, "queue/#", 1)
	sub.Close()
	// mosquitto_sub on the host stays through the restart: it reconnects
	// by itself and resumes its session.
	onHost := clients.HostSub(t, addr, "queue/#", clients.QoS(1), clients.ClientID("it-host-persistent"), clients.Persistent())

	b.Pub(t, "state/kept", []byte("retained value"), clients.QoS(1), clients.Retain())
	for i := range 5 {
		b.Pub(t, fmt.Sprintf("queue/%d", i), []byte(fmt.Sprint(i)), clients.QoS(1))
	}

	stop := b.Stop(t)
	start := b.Start(t)
	t.Logf("figure: persistent broker stop %v, start until ready %v", stop.Round(time.Millisecond), start.Round(time.Millisecond))
	if b.Addr() != addr {
		t.Fatalf("address changed across the restart: %s, then %s", addr, b.Addr())
	}

	// Same client id, no new subscription: the broker delivers the queue.
	back := clients.Connect(t, clients.PahoOptions{URL: "tcp://" + addr, ClientID: "it-persistent", Persistent: true})
	got := back.All().WaitCount(t, 5, 10*time.Second)
	for i, m := range got {
		if m.Topic != fmt.Sprintf("queue/%d", i) || string(m.Payload) != fmt.Sprint(i) {
			t.Errorf("queued message %d after restart: %v", i, m)
		}
	}
	b.Pub(t, "queue/after-restart", []byte("5"), clients.QoS(1))
	got = onHost.WaitCount(t, 6, 30*time.Second)
	if m := got[5]; m.Topic != "queue/after-restart" {
		t.Errorf("host mosquitto_sub's sixth message: %v, want the one published after the restart", m)
	}
	fresh := clients.Connect(t, clients.PahoOptions{URL: "tcp://" + addr})
	kept := fresh.Subscribe(t, "state/kept", 1).WaitPayload(t, "state/kept", "retained value", 10*time.Second)
	if !kept.Retained {
		t.Errorf("state/kept after restart arrived without the retained flag: %v", kept)
	}
}

// A paused broker keeps its TCP connections open and answers nothing: a
// client with a short keepalive notices, and reconnects after unpause.
func TestHarnessPause(t *testing.T) {
	t.Parallel()
	var id string
	t.Run("noticed, then reconnected", func(t *testing.T) {
		b := env.Start(t, mosquitto.Config{})
		id = b.ContainerID()
		pauseAndBack(t, b)
		// Left paused: the cleanup must remove it all the same.
		b.Pause(t)
	})
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.ContainerInspect(context.Background(), id, dockerclient.ContainerInspectOptions{}); err == nil {
		t.Errorf("container %s of a paused broker survived its test's cleanup", id)
	}
}

func pauseAndBack(t *testing.T, b *mosquitto.Broker) {
	const keepalive = time.Second
	c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), KeepAlive: keepalive, PingTimeout: keepalive,
		AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	lost0, connects0 := c.Events()

	pauseAt := time.Now()
	pause := b.Pause(t)
	// paho pings after a keepalive of silence and gives up a ping timeout
	// later; the deadline leaves room for a loaded machine.
	lost, err := c.AwaitLost(lost0, 10*keepalive)
	if err != nil {
		t.Fatalf("paused broker not noticed: %v", err)
	}
	noticed := lost.At.Sub(pauseAt)
	unpauseAt := time.Now()
	unpause := b.Unpause(t)
	back, err := c.AwaitConnects(connects0, 20*time.Second)
	if err != nil {
		t.Fatalf("no reconnection after unpause: %v", err)
	}
	t.Logf("figure: pause %v, unpause %v (engine); keepalive %v: loss noticed %v after pause (%v), reconnected %v after unpause",
		pause.Round(time.Millisecond), unpause.Round(time.Millisecond), keepalive, noticed.Round(time.Millisecond),
		lost.Reason, back.Sub(unpauseAt).Round(time.Millisecond))
	sub := c.Subscribe(t, "after/unpause", 1)
	b.Pub(t, "after/unpause", []byte("ok"), clients.QoS(1))
	sub.WaitPayload(t, "after/unpause", "ok", 10*time.Second)
}

// TLS with a CA, mutual TLS with client certificates, and the refusals.
func TestHarnessTLS(t *testing.T) {
	t.Parallel()
	ca := pki.NewCA(t, "edgeagent test CA")
	server := ca.Server(t, "broker")
	node := ca.Client(t, "node-1")
	rogueCA := pki.NewCA(t, "rogue CA")
	rogue := rogueCA.Client(t, "node-1")

	t.Run("server TLS", func(t *testing.T) {
		t.Parallel()
		b := env.Start(t, mosquitto.Config{Name: "tls", TLS: &mosquitto.TLS{CA: ca.PEM, Cert: server.CertPEM, Key: server.KeyPEM}})
		c := clients.Connect(t, clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(ca, nil)})
		sub := c.Subscribe(t, "tls/#", 1)
		clients.HostPub(t, b.TLSAddr(), "tls/host", []byte("over TLS"), clients.QoS(1), clients.TLSFiles(ca.File, "", ""))
		sub.WaitPayload(t, "tls/host", "over TLS", 10*time.Second)
		// A client that does not trust the broker's CA refuses it.
		if bad, err := clients.Dial(clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(rogueCA, nil), ConnectTimeout: 5 * time.Second}); err == nil {
			bad.Close()
			t.Error("a client trusting another CA connected")
		} else {
			t.Logf("client with the wrong CA: %v", err)
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		t.Parallel()
		b := env.Start(t, mosquitto.Config{Name: "mtls", TLS: &mosquitto.TLS{
			CA: ca.PEM, Cert: server.CertPEM, Key: server.KeyPEM, RequireClientCert: true}})
		c := clients.Connect(t, clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(ca, node)})
		sub := c.Subscribe(t, "mtls/#", 1)
		clients.HostPub(t, b.TLSAddr(), "mtls/host", []byte("with a client certificate"), clients.QoS(1),
			clients.TLSFiles(ca.File, node.CertFile, node.KeyFile))
		sub.WaitPayload(t, "mtls/host", "with a client certificate", 10*time.Second)

		for name, id := range map[string]*pki.Identity{"no client certificate": nil, "certificate from another CA": rogue} {
			bad, err := clients.Dial(clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(ca, id), ConnectTimeout: 5 * time.Second})
			if err == nil {
				bad.Close()
				t.Errorf("%s: connected", name)
				continue
			}
			t.Logf("%s: refused: %v", name, err)
		}
		if out, err := clients.HostPubErr(t, b.TLSAddr(), "mtls/x", []byte("x"), clients.TLSFiles(ca.File, rogue.CertFile, rogue.KeyFile)); err == nil {
			t.Errorf("mosquitto_pub with a rogue certificate succeeded: %s", out)
		}
		line := b.WaitLog(t, 0, regexp.MustCompile(`(?i)certificate|OpenSSL Error`), 10*time.Second)
		t.Logf("what the operator sees: %s", line)
	})
}

// A password file: the right password connects, a wrong one and an
// anonymous client are refused.
func TestHarnessPassword(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{Users: map[string]string{"node-1": "right horse battery"}})
	c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), Username: "node-1", Password: "right horse battery"})
	c.Subscribe(t, "pw/#", 1)

	mark := b.LogLines(t)
	for name, o := range map[string]clients.PahoOptions{
		"wrong password": {URL: b.URL(), ClientID: "it-wrong-pw", Username: "node-1", Password: "wrong"},
		"anonymous":      {URL: b.URL(), ClientID: "it-anonymous"},
	} {
		bad, err := clients.Dial(o)
		if err == nil {
			bad.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if !strings.Contains(err.Error(), "not Authorized") {
			t.Errorf("%s: %v, want a not-authorised refusal", name, err)
		}
	}
	if out, err := clients.HostPubErr(t, b.Addr(), "pw/x", []byte("x"), clients.Auth("node-1", "wrong")); err == nil {
		t.Errorf("mosquitto_pub with a wrong password succeeded: %s", out)
	}
	// Mosquitto 2.0.11 does not name the client it refuses.
	line := b.WaitLog(t, mark, regexp.MustCompile(`disconnected, not authorised`), 10*time.Second)
	t.Logf("what the operator sees: %s", line)
}

// An acl_file grants a subscription it does not allow and withholds the
// messages silently.
func TestHarnessACL(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{
		Users: map[string]string{"node-1": "pw"},
		ACL:   "user node-1\ntopic readwrite edgeagent/node-1/#\n",
	})
	c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), Username: "node-1", Password: "pw"})
	code, denied := c.SubscribeCode(t, "edgeagent/node-2/#", 1)
	own := c.Subscribe(t, "edgeagent/node-1/#", 1)
	t.Logf("what the node sees: SUBACK 0x%02x for a filter the ACL does not allow", code)
	if code > 2 {
		t.Errorf("acl_file refused the subscription (0x%02x); Mosquitto 2.0 grants it and withholds messages", code)
	}
	// The harness's account publishes the withheld message first, then a
	// marker the node may read: once the marker is in, the other message
	// would have been too (one publisher, one subscriber, in order).
	b.Pub(t, "edgeagent/node-2/state", []byte("not for node-1"), clients.QoS(1))
	b.Pub(t, "edgeagent/node-1/marker", []byte("after"), clients.QoS(1))
	own.WaitPayload(t, "edgeagent/node-1/marker", "after", 10*time.Second)
	if all := c.All().Messages(); len(all) != 1 || denied.Len() != 0 {
		t.Errorf("the node received %v, want only the marker", all)
	}
}

// The dynamic-security plugin refuses a subscription with SUBACK 0x80.
func TestHarnessDynSec(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{DynSec: &mosquitto.DynSec{
		DenyByDefault: true,
		Clients:       []mosquitto.DynSecClient{{Username: "node-1", Password: "pw", Roles: []string{"node"}}},
		Roles: []mosquitto.DynSecRole{{Name: "node", ACLs: []mosquitto.DynSecACL{
			{Type: "subscribePattern", Topic: "edgeagent/node-1/#", Allow: true},
			{Type: "publishClientSend", Topic: "edgeagent/node-1/#", Allow: true},
		}}},
	}})
	c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), Username: "node-1", Password: "pw"})
	code, _ := c.SubscribeCode(t, "edgeagent/node-2/#", 1)
	if code != 0x80 {
		t.Errorf("dynamic security answered SUBACK 0x%02x to a denied filter, want 0x80", code)
	}
	own := c.Subscribe(t, "edgeagent/node-1/#", 1)
	c.Publish(t, "edgeagent/node-1/state", 1, false, []byte("allowed"))
	own.WaitPayload(t, "edgeagent/node-1/state", "allowed", 10*time.Second)

	// mosquitto_sub reports the same refusal.
	s := b.Sub(t, "edgeagent/node-2/#", clients.Auth("node-1", "pw"), clients.QoS(1))
	codes, err := s.WaitSubscribed(time.Second)
	if err != nil || len(codes) != 1 || codes[0] != 0x80 {
		t.Errorf("mosquitto_sub SUBACK codes %v (%v), want [128]", codes, err)
	}
	if _, err := clients.Dial(clients.PahoOptions{URL: b.URL(), Username: "node-1", Password: "wrong"}); err == nil {
		t.Error("dynamic security accepted a wrong password")
	}
}

// Two brokers joined by Mosquitto's bridge carry messages site → central
// and central → site.
func TestHarnessBridge(t *testing.T) {
	t.Parallel()
	start := time.Now()
	p := env.StartBridgedPair(t, mosquitto.Config{}, mosquitto.Config{})
	t.Logf("figure: bridged pair (network, two brokers, bridge up) in %v", time.Since(start).Round(time.Millisecond))

	atCentral := clients.Connect(t, clients.PahoOptions{URL: p.Central.URL()}).Subscribe(t, "edgeagent/site-node/#", 1)
	atSite := clients.Connect(t, clients.PahoOptions{URL: p.Site.URL()}).Subscribe(t, "edgeagent/site-node/req/#", 1)

	sent := time.Now()
	clients.HostPub(t, p.Central.Addr(), "edgeagent/site-node/req/ping", []byte(`{"id":1}`), clients.QoS(1))
	atSite.WaitPayload(t, "edgeagent/site-node/req/ping", `{"id":1}`, 10*time.Second)
	down := time.Since(sent)
	sent = time.Now()
	clients.HostPub(t, p.Site.Addr(), "edgeagent/site-node/reply", []byte(`{"id":1,"ok":true}`), clients.QoS(1))
	atCentral.WaitPayload(t, "edgeagent/site-node/reply", `{"id":1,"ok":true}`, 10*time.Second)
	t.Logf("figure: central → site %v, site → central %v (mosquitto_pub on the host included)",
		down.Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
}
