package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
	dockerclient "github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// containerURL is the broker's plain listener at its container address
// (Docker's bridge network), bypassing docker-proxy.
func containerURL(t testing.TB, b *mosquitto.Broker) string {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := cli.ContainerInspect(ctx, b.ContainerID(), dockerclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect broker container: %v", err)
	}
	if ns := r.Container.NetworkSettings; ns != nil {
		for _, ep := range ns.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				return fmt.Sprintf("tcp://%s:%d", ep.IPAddress, mosquitto.PlainPort)
			}
		}
	}
	t.Fatalf("broker container %s has no network address", b.ContainerID())
	return ""
}

// Scenario 2 (issue 14): commands through the stock broker (Nagle on).
// mosquitto_pub sends a set and a request, the device acts, the state and
// the reply arrive at mosquitto_sub; then 200 QoS 1 request → reply trips
// give p50 and p99 (goal p50 ≤ 1 ms; a plain paho pair pays 44 ms there,
// see TestHarnessStockNagleStall).
//
// The agent dials the broker's container address on Docker's bridge
// network, the one exception to "every address on loopback": on
// 127.0.0.1 its peer would be docker-proxy, not Mosquitto, and the proxy's
// kernel delays its ACKs, so Mosquitto's Nagle holds each request behind
// the PUBACK of the previous reply (measured: p50 44 ms) whatever the
// agent does about its own ACKs (TCP_QUICKACK). A broker on a real host has
// no proxy in between. The test's own clients stay on loopback.
//
// Not parallel: the latency figure is meant for a quiet machine.
func TestScenario2CommandRoundTrip(t *testing.T) {
	b := env.Start(t, mosquitto.Config{})
	a := StartAgent(t, AgentConfig{Brokers: []string{containerURL(t, b)}, NodeID: "it-s2"})

	// The CLI clients, inside the broker's container.
	sub := b.Sub(t, "edgeagent/#", clients.QoS(1))
	b.Pub(t, a.Topic("lamp", "set"), []byte("ON"), clients.QoS(1))
	state := sub.WaitFor(t, "lamp state ON", 10*time.Second, func(m clients.Message) bool {
		return m.Topic == a.Topic("lamp", "state") && strings.Contains(string(m.Payload), `"value":"ON"`)
	})
	replyTo := "edgeagent/_client/cli/reply/r1"
	b.Pub(t, a.Topic("req", "read"), []byte(`{"id":"r1","reply_to":"`+replyTo+`","params":"lamp"}`), clients.QoS(1))
	reply := sub.WaitFor(t, "reply to read", 10*time.Second, func(m clients.Message) bool { return m.Topic == replyTo })
	var r struct {
		ID     string `json:"id"`
		Result struct {
			Device string `json:"device"`
			Now    any    `json:"now"`
			Values map[string]struct {
				Value any `json:"value"`
			} `json:"values"`
		} `json:"result"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(reply.Payload, &r); err != nil || r.ID != "r1" || r.Error != "" {
		t.Fatalf("reply %v: %v", reply, err)
	}
	if v := r.Result.Values["lamp"].Value; v != "ON" || r.Result.Device != "lamp" {
		t.Errorf("read lamp after set ON: %s", reply.Payload)
	}
	t.Logf("figure: S2 mosquitto_pub set → state at mosquitto_sub: %s; request → reply: %s", state, reply)

	// Latency: requests published on one connection, replies read on
	// another. On one connection the broker would write the PUBACK of the
	// request and then the reply: Nagle holds the reply until the client's
	// delayed ACK (the 44 ms of a plain paho client), which measures the
	// client, not the agent.
	pub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s2-req"})
	replies := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s2-rep"}).
		Subscribe(t, "edgeagent/_client/it-s2/reply/#", 1)
	const warmup, trips = 10, 200
	var rtts []time.Duration
	for i := range warmup + trips {
		id := fmt.Sprint(i)
		topic := "edgeagent/_client/it-s2/reply/" + id
		body := []byte(`{"id":"` + id + `","reply_to":"` + topic + `"}`)
		start := time.Now()
		pub.Publish(t, a.Topic("req", "ping"), 1, false, body)
		m := replies.WaitFor(t, "ping reply "+id, 10*time.Second, func(m clients.Message) bool { return m.Topic == topic })
		if !strings.Contains(string(m.Payload), `"pong":true`) || m.QoS != 1 {
			t.Fatalf("ping reply %d: %v", i, m)
		}
		if i >= warmup {
			rtts = append(rtts, m.At.Sub(start))
		}
	}
	l := clients.Summarize(rtts)
	t.Logf("figure: S2 QoS 1 request → reply (ping) via stock Mosquitto (agent on %s), %d calls: %v (goal p50 ≤ 1ms: %s)",
		a.Cfg.Brokers[0], trips, l, map[bool]string{true: "met", false: "NOT met"}[l.P50 <= time.Millisecond])
	// The bound that must hold on a loaded CI machine: far below the
	// 40 ms delayed-ACK stall.
	if l.P50 > 10*time.Millisecond {
		t.Errorf("p50 %v: the agent's replies stall (Nagle/delayed ACK?)", l.P50)
	}
}
