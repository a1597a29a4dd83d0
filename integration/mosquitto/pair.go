package mosquitto

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// Pair is two brokers joined by Mosquitto's own bridge, the way sites
// forward to a central broker: Site holds the bridge connection to Central.
type Pair struct {
	Site, Central *Broker
}

// bridgeProbeTopics carry the harness's probes across the bridge whatever
// topics the test bridges.
const bridgeProbeTopics = "harness/bridge/# both 1"

// StartBridgedPair starts central, then site with a bridge to central, on
// a new Docker network where each is reachable by its Name (defaults
// "site" and "central"). site.Bridge may set the bridged topics (default
// "# both 1"), client id or credentials; its Address defaults to central's
// plain listener, and when central has authentication and no credentials
// are given, the bridge uses the harness's account there. It returns once
// a message crossed the bridge in both directions.
func (e *Env) StartBridgedPair(t testing.TB, site, central Config) *Pair {
	t.Helper()
	e.Require(t)
	if site.Name == "" {
		site.Name = "site"
	}
	if central.Name == "" {
		central.Name = "central"
	}
	if site.Name == central.Name {
		t.Fatalf("bridged pair: both brokers are named %q", site.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(e.labels()))
	cancel()
	if err != nil {
		t.Fatalf("bridged pair: create network: %v", err)
	}
	// Registered first, so it runs after the brokers' cleanups.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := nw.Remove(ctx); err != nil {
			t.Errorf("bridged pair: remove network: %v", err)
		}
	})

	c := e.start(t, central, startOptions{network: nw.Name})
	var br Bridge
	if site.Bridge != nil {
		br = *site.Bridge
	}
	if br.Address == "" {
		br.Address = central.Name + ":" + strconv.Itoa(PlainPort)
	}
	if br.RemoteUsername == "" && c.user != "" {
		br.RemoteUsername, br.RemotePassword = c.user, c.pw
	}
	if len(br.Topics) == 0 {
		br.Topics = []string{"# both 1"}
	}
	br.Topics = append(append([]string(nil), br.Topics...), bridgeProbeTopics)
	site.Bridge = &br
	s := e.start(t, site, startOptions{network: nw.Name})
	p := &Pair{Site: s, Central: c}
	d := p.WaitBridged(t, 30*time.Second)
	t.Logf("bridge %s → %s carries messages both ways %v after the site started", s.name, c.name, d.Round(time.Millisecond))
	return p
}

// WaitBridged waits until a probe message published at the site arrives
// at central and one published at central arrives at the site (after a
// restart of either, say), and returns how long that took.
func (p *Pair) WaitBridged(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	probe := strconv.FormatInt(start.UnixNano(), 36)
	up, down := "harness/bridge/up/"+probe, "harness/bridge/down/"+probe
	atCentral := p.Central.Sub(t, up, clients.QoS(1), clients.Timeout(timeout+5*time.Second))
	atSite := p.Site.Sub(t, down, clients.QoS(1), clients.Timeout(timeout+5*time.Second))
	deadline := start.Add(timeout)
	for n := 0; ; n++ {
		payload := []byte(fmt.Sprint(n))
		if atCentral.Len() == 0 {
			p.Site.Pub(t, up, payload, clients.QoS(1))
		}
		if atSite.Len() == 0 {
			p.Central.Pub(t, down, payload, clients.QoS(1))
		}
		// The bridge takes a moment to (re)connect and subscribe: retry
		// the probes until both have crossed.
		_, err1 := atCentral.Await(200*time.Millisecond, func(m []clients.Message) bool { return len(m) > 0 })
		_, err2 := atSite.Await(200*time.Millisecond, func(m []clients.Message) bool { return len(m) > 0 })
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s → %s: probes crossed up=%t down=%t within %v\nsite log:\n%s\ncentral log:\n%s",
				p.Site.name, p.Central.name, err1 == nil, err2 == nil, timeout,
				lastLines(p.Site.logText(), 20), lastLines(p.Central.logText(), 20))
		}
	}
	atCentral.Stop()
	atSite.Stop()
	return time.Since(start)
}
