package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 9 (issue 14): SIGTERM → "offline" retained (read back from the
// broker), the outbox flushed, exit 0. The agent is stopped in the middle
// of sending a burst of QoS 1 events it has taken: each is delivered
// before the exit or kept in the outbox and delivered after the next start.
func TestScenario9GracefulStop(t *testing.T) {
	t.Parallel()
	// The subscriber may fall behind the burst: no broker-side queue limit.
	b := env.Start(t, mosquitto.Config{Extra: []string{"max_queued_messages 0"}})
	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-s9", Devices: []string{LampDevice, PtyDevice("burst")}})
	sub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s9-sub", Persistent: true,
		AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	events := sub.Subscribe(t, a.Topic("burst", "event"), 1)

	// 54 KB: the whole burst fits the serial stream's 64 KiB receive buffer,
	// where the device leaves what the outbox has not yet taken (it waits
	// for room between batches), so none of it may be lost.
	const n = 6000
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("s9-%05d", i)
	}
	a.WriteLines(t, "burst", lines...)
	a.WaitLinesRead(t, "burst", n, 30*time.Second)
	before := events.Len()

	avail := a.Controller(t).Subscribe(t, a.Topic("availability"), 1)
	start := time.Now()
	exit := a.Stop(t)
	took := time.Since(start)
	if exit.Code != 0 || exit.Signal != 0 {
		t.Errorf("exit after SIGTERM: %v, want exit code 0", exit)
	}
	delivered := events.Len()
	off := avail.WaitPayload(t, a.Topic("availability"), "offline", 10*time.Second)
	if m := a.Retained(t, a.Topic("availability")); string(m.Payload) != "offline" {
		t.Errorf("retained availability after the stop: %v, want offline", m)
	}
	a.Proc().WaitLine(t, 0, regexp.MustCompile(`msg=stopped`), time.Second)
	t.Logf("figure: S9 SIGTERM → %v in %v; offline seen %v after the signal and retained; %d of %d events at the subscriber when the stop began, %d by the exit",
		exit, took.Round(time.Millisecond), off.At.Sub(start).Round(time.Millisecond), before, n, delivered)

	// The rest waited in the outbox: the next start delivers it, in order.
	// (In some runs the broker has acknowledged the whole burst before the
	// exit; then the outbox recovers nothing, and the check is the same.)
	mark := time.Now()
	a.Start(t)
	a.WaitOnline(t, 0, 30*time.Second)
	a.Proc().WaitLine(t, 0, regexp.MustCompile(`msg=ready`), 5*time.Second) // logged after the outbox is open
	pending := "pending=0"
	if kept, err := a.Proc().AwaitLine(0, regexp.MustCompile(`msg="outbox: recovered".* pending=(\d+)`), 0); err == nil {
		pending = regexp.MustCompile(`pending=\d+`).FindString(kept.Text)
	}
	got := distinctInOrder(t, events, "s9-", n, 60*time.Second)
	t.Logf("figure: S9 after the restart (%s): all %d events delivered in order (%d duplicates), the last %v after the start",
		pending, n, got.dups, got.last.Sub(mark).Round(time.Millisecond))
}

// delivery is what a subscriber received of a numbered burst.
type delivery struct {
	dups int       // messages received more than once
	last time.Time // when the last new one arrived
}

var seqInPayload = regexp.MustCompile(`"line":"([a-z0-9]+-)(\d+)"`)

// distinctInOrder waits until the collector holds every one of the n
// events prefix00000 … of a burst and checks that their first copies came
// in order; it returns the duplicates counted.
func distinctInOrder(t testing.TB, c *clients.Collector, prefix string, n int, timeout time.Duration) delivery {
	t.Helper()
	var d delivery
	var orderErr string
	seen := make(map[int]bool, n)
	next, done := 0, 0
	// Await hands the growing list each time: look at the new part only.
	_, err := c.Await(timeout, func(ms []clients.Message) bool {
		for _, m := range ms[done:] {
			sm := seqInPayload.FindSubmatch(m.Payload)
			if sm == nil || string(sm[1]) != prefix {
				continue
			}
			i, _ := strconv.Atoi(string(sm[2]))
			if seen[i] {
				d.dups++
				continue
			}
			seen[i] = true
			d.last = m.At
			if i != next && orderErr == "" {
				orderErr = fmt.Sprintf("event %d arrived where %d was due", i, next)
			}
			next = i + 1
		}
		done = len(ms)
		return len(seen) >= n
	})
	if err != nil {
		t.Fatalf("%d of %d events arrived: %v (%d duplicates so far)", len(seen), n, err, d.dups)
	}
	if orderErr != "" {
		t.Errorf("out of order: %s", orderErr)
	}
	return d
}
