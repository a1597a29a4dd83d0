package integration

import (
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 4 (issue 14): the broker is paused (`docker pause`: its TCP
// connections stay open and nothing answers). The agent notices within
// 1.5× its keepalive, reconnects after the unpause and loses nothing: the
// QoS 1 events produced around the pause all reach a persistent
// subscriber, in order.
func TestScenario4BrokerPaused(t *testing.T) {
	t.Parallel()
	const keepalive = 2 * time.Second
	b := env.Start(t, mosquitto.Config{})
	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-s4", Keepalive: keepalive,
		Devices: []string{PtyDevice("burst")}})
	sub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s4-sub", Persistent: true,
		KeepAlive: 2 * time.Second, PingTimeout: 2 * time.Second,
		AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	events := sub.Subscribe(t, a.Topic("burst", "event"), 1)

	const n = 500
	prod := startProducer(t, a, "burst", "s4-", n, 20*time.Millisecond)
	prod.waitWritten(t, 100, 30*time.Second)

	mark := a.Proc().LineCount()
	pauseAt := time.Now()
	b.Pause(t)
	lost := a.WaitLost(t, mark, 10*keepalive)
	noticed := lost.At.Sub(pauseAt)
	// Paused a while longer than the agent took to notice, so that it
	// tries to reconnect against the frozen broker too.
	<-time.After(time.Until(pauseAt.Add(2 * keepalive * 3 / 2)))
	mark = a.Proc().LineCount()
	unpauseAt := time.Now()
	b.Unpause(t)
	conn := a.WaitOnline(t, mark, 30*time.Second)
	prod.wait(t, time.Minute)
	got := distinctInOrder(t, events, "s4-", n, 60*time.Second)
	t.Logf("figure: S4 keepalive %v: paused broker noticed after %v (bound 1.5× keepalive = %v): %s",
		keepalive, noticed.Round(time.Millisecond), keepalive*3/2, lost.Text)
	t.Logf("figure: S4 reconnected %v after the unpause; %d/%d events delivered in order, %d duplicates",
		conn.At.Sub(unpauseAt).Round(time.Millisecond), n, n, got.dups)
	if noticed > keepalive*3/2 {
		t.Errorf("the agent noticed the paused broker after %v, want within 1.5× keepalive (%v)", noticed, keepalive*3/2)
	}
}
