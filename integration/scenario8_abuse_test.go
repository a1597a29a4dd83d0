package integration

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// abuseRequest is the i-th malformed request: its topic below the node's
// req/ and its payload. Bad JSON, unknown methods, a missing id, a
// reply_to aimed at another node, and now and then a payload far beyond
// the 64 KiB a request may have.
func abuseRequest(i int, huge []byte) (method string, payload []byte) {
	switch {
	case i%100 == 99:
		return "ping", huge
	case i%4 == 0:
		return "ping", fmt.Appendf(nil, `{"id":%d,"params":[1,2`, i)
	case i%4 == 1:
		return fmt.Sprintf("nosuch%d", i%10), fmt.Appendf(nil, `{"id":%d}`, i)
	case i%4 == 2:
		return "read", []byte(`{"params":"lamp"}`)
	default:
		return "ping", fmt.Appendf(nil, `{"id":%d,"reply_to":"edgeagent/s8-other/lamp/set"}`, i)
	}
}

// Scenario 8: abuse. 1000 malformed requests a second for 20 s: each gets
// an error reply, the agent's memory stays bounded, and valid requests
// and commands are still answered within a second.
func TestScenario8Abuse(t *testing.T) {
	t.Parallel()
	env.Require(t)
	const (
		rate     = 1000 // requests per second
		duration = 20 * time.Second
		batch    = 10 // requests per tick on average: a 10 ms ticker is steadier than a 1 ms one
	)
	b := env.Start(t, mosquitto.Config{Name: "s8-abuse"})
	a := StartAgent(t, AgentConfig{NodeID: "s8-node", Brokers: []string{b.URL()}, NoHomeAssistant: true})
	rss0 := a.RSS(t)

	watch := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
	errReplies := watch.Subscribe(t, a.Topic("res", "#"), 0)
	victim := watch.Subscribe(t, "edgeagent/s8-other/#", 0)
	states := watch.Subscribe(t, a.Topic("lamp", "state"), 1)

	abuser := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s8-abuser"})
	huge := bytes.Repeat([]byte("x"), 1<<20) // 1 MiB, not even JSON
	var sent, hugeSent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(batch * time.Second / rate)
		defer tick.Stop()
		start := time.Now()
		for i := 0; i < rate*int(duration/time.Second); {
			<-tick.C
			// Catch up with the clock: a late tick sends more.
			for due := min(int(time.Since(start)*rate/time.Second), rate*int(duration/time.Second)); i < due; {
				method, payload := abuseRequest(i, huge)
				// QoS 0, not waited for: the flood is paced by the ticker,
				// not by the broker's acknowledgements.
				abuser.Client().Publish(a.Topic("req", method), 0, false, payload)
				if len(payload) > 64<<10 {
					hugeSent.Add(1)
				}
				i++
				sent.Add(1)
			}
		}
	}()

	// Meanwhile: a valid request and a command every 500 ms, each answered
	// within a second, and the agent's RSS.
	var rtts, cmdTimes []time.Duration
	maxRSS := rss0
	on := false
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		r := a.Call(t, "ping", nil)
		if r.Error != "" {
			t.Errorf("valid ping during the flood: %s", r.Error)
		}
		rtts = append(rtts, r.RTT)
		on = !on
		want := map[bool]string{true: "ON", false: "OFF"}[on]
		mark := states.Len()
		start := time.Now()
		a.Set(t, "lamp", want)
		if _, err := states.Await(10*time.Second, func(ms []clients.Message) bool {
			return len(ms) > mark && stateValue(ms[len(ms)-1]) == want
		}); err != nil {
			t.Fatalf("lamp %s during the flood: %v", want, err)
		}
		cmdTimes = append(cmdTimes, time.Since(start))
		maxRSS = max(maxRSS, a.RSS(t))
		// Paced by the flood's own end, not a sleep: wait for it up to 500 ms.
		select {
		case <-done:
			running = false
		case <-time.After(500 * time.Millisecond):
		}
	}
	n := sent.Load()

	// Every request gets a reply: wait for as many as were sent (the
	// count is judged below if some never come).
	_, _ = errReplies.Await(30*time.Second, func(ms []clients.Message) bool { return int64(len(ms)) >= n })
	errs := 0
	for _, m := range errReplies.Messages() {
		if strings.Contains(string(m.Payload), `"error":`) {
			errs++
		}
	}
	pings, cmds := clients.Summarize(rtts), clients.Summarize(cmdTimes)
	t.Logf("figure: S8 flood: %d malformed requests in %v (%d of 1 MiB), %d error replies received (QoS 0)", n, duration, hugeSent.Load(), errs)
	t.Logf("figure: S8 agent RSS: %s before, at most %s during the flood", mib(rss0), mib(maxRSS))
	t.Logf("figure: S8 valid ping during the flood: %v", pings)
	t.Logf("figure: S8 set → state during the flood: %v", cmds)

	if pings.Max > time.Second || cmds.Max > time.Second {
		t.Errorf("valid requests or commands took up to %v / %v during the flood, want within 1s", pings.Max, cmds.Max)
	}
	// QoS 0 may shed under load, but the bulk is answered.
	if int64(errs) < n*9/10 {
		t.Errorf("%d error replies to %d malformed requests, want at least 90%%", errs, n)
	}
	if maxRSS > 64<<20 {
		t.Errorf("RSS reached %s during the flood, want bounded below 64 MiB", mib(maxRSS))
	}
	if victim.Len() != 0 {
		t.Errorf("the flood made the node publish on another node's topics: %v", victim.Messages()[:1])
	}
	if a.Proc().Exited() {
		t.Fatal("the agent exited during the flood")
	}
	st := a.Call(t, "status", nil)
	t.Logf("figure: S8 agent status after the flood: %s", st.Result)
}
