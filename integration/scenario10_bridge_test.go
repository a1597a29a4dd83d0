package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 10: a site broker bridged to a central one with Mosquitto's own
// bridge (stock settings on both). The agent is attached at the site; a
// controller on the central broker commands it and calls it, and gets the
// replies and states back across the bridge.
func TestScenario10Bridge(t *testing.T) {
	t.Parallel()
	env.Require(t)
	start := time.Now()
	p := env.StartBridgedPair(t, mosquitto.Config{Name: "s10-site"}, mosquitto.Config{Name: "s10-central"})
	t.Logf("figure: S10 bridged pair up in %v", time.Since(start).Round(time.Millisecond))
	a := StartAgent(t, AgentConfig{NodeID: "s10-node", Brokers: []string{p.Site.URL()}, NoHomeAssistant: true})

	ctl := clients.Connect(t, clients.PahoOptions{URL: p.Central.URL(), ClientID: "it-s10-central"})
	replies := ctl.Subscribe(t, "edgeagent/_client/central/reply/#", 1)
	states := ctl.Subscribe(t, a.Topic("lamp", "state"), 1)

	// A command from the centre switches the lamp at the site; its state
	// comes back.
	sent := time.Now()
	ctl.Publish(t, a.Topic("lamp", "set"), 1, false, []byte("ON"))
	waitState(t, states, a.Topic("lamp", "state"), "ON", 20*time.Second)
	t.Logf("figure: S10 set from central → state back at central: %v", time.Since(sent).Round(time.Millisecond))

	// Requests from the centre, one after the other, at QoS 1; the same
	// client kind straight at the site broker is the baseline.
	l := pingRTTs(t, ctl, replies, a, "central")
	t.Logf("figure: S10 request → reply from central through the bridge to the site agent and back (QoS 1, stock Nagle): %v", l)
	local := clients.Connect(t, clients.PahoOptions{URL: p.Site.URL(), ClientID: "it-s10-site"})
	base := pingRTTs(t, local, local.Subscribe(t, "edgeagent/_client/site/reply/#", 1), a, "site")
	t.Logf("figure: S10 baseline, the same calls from a client on the site broker: %v", base)
	if l.P50 > time.Second {
		t.Errorf("p50 round trip through the bridge %v, want well under a second", l.P50)
	}
}

// pingRTTs makes 100 ping calls (after 5 for warm-up) one after the other
// from c, replies in client's reply namespace, and summarises their
// round trips.
func pingRTTs(t *testing.T, c *clients.Paho, replies *clients.Collector, a *Agent, client string) clients.Latency {
	t.Helper()
	const warmup, calls = 5, 100
	var rtts []time.Duration
	for i := range warmup + calls {
		id := fmt.Sprintf("%s-%d", client, i)
		replyTo := "edgeagent/_client/" + client + "/reply/" + id
		sent := time.Now()
		c.Publish(t, a.Topic("req", "ping"), 1, false, fmt.Appendf(nil, `{"id":%q,"reply_to":%q}`, id, replyTo))
		m := replies.WaitFor(t, "reply "+id, 20*time.Second, func(m clients.Message) bool { return m.Topic == replyTo })
		if r := parseReply(t, m); r.Error != "" || !strings.Contains(string(r.Result), `"pong":true`) {
			t.Fatalf("reply %s: %s", id, m.Payload)
		}
		if i >= warmup {
			rtts = append(rtts, time.Since(sent))
		}
	}
	return clients.Summarize(rtts)
}
