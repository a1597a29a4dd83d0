package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 5 (issue 14): the agent is killed with SIGKILL in the middle of
// a burst of QoS 1 events and started again on the same state directory:
// every message it had accepted is delivered. Accepted means appended to
// the outbox — found in its files right after the kill (the outbox writes
// the payload as is) — or already delivered before the kill. Lines still
// in the pty, or read and still waiting in memory for the append (the
// agent's publications are queued for the outbox's writer), were never
// accepted: the pty and the process's memory die with it. QoS 1 allows duplicates (messages
// in flight at the kill are sent again): they are counted and printed.
func TestScenario5KilledMidBurst(t *testing.T) {
	t.Parallel()
	// The subscriber may fall behind the burst: no broker-side queue limit.
	b := env.Start(t, mosquitto.Config{Extra: []string{"max_queued_messages 0"}})
	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-s5", Devices: []string{PtyDevice("burst")}})
	sub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s5-sub", Persistent: true,
		AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	events := sub.Subscribe(t, a.Topic("burst", "event"), 1)

	const n = 20000
	prod := startProducer(t, a, "burst", "s5-", n, 0)
	// Killed early in the burst: the agent is well ahead of what the
	// subscriber has seen, and must still be sending (the restart's
	// outbox recovery below proves it was).
	if _, err := events.Await(60*time.Second, func(ms []clients.Message) bool { return len(ms) >= 200 }); err != nil {
		t.Fatalf("the burst did not start: %v", err)
	}
	if exit := a.Kill(t); exit.Signal != syscall.SIGKILL {
		t.Fatalf("agent ended by %v, not by SIGKILL", exit)
	}
	written := prod.written.Load()
	before := seqs(events.Messages(), "s5-")
	inOutbox := outboxSeqs(t, a.Cfg.StateDir, "s5-")

	accepted := map[int]bool{}
	for i := range before {
		accepted[i] = true
	}
	for i := range inOutbox {
		accepted[i] = true
	}
	// Accepted messages form a prefix of the burst: they were read in order.
	want := len(accepted)
	for i := range want {
		if !accepted[i] {
			t.Fatalf("accepted messages are not the prefix 0…%d: %d is missing", want-1, i)
		}
	}

	restart := time.Now()
	a.Start(t)
	a.WaitOnline(t, 0, 30*time.Second)
	// Logged only when the outbox held messages not yet acknowledged.
	recovered := a.Proc().WaitLine(t, 0, regexp.MustCompile(`msg="outbox: recovered"`), time.Second)
	got := distinctInOrder(t, events, "s5-", want, 60*time.Second)
	t.Logf("figure: S5 SIGKILL mid-burst: %d lines written to the device, %d accepted (%d delivered before the kill, %d in the outbox files), %d never accepted (still in the pty, the serial buffer or memory, not yet appended to the outbox)",
		written, want, len(before), len(inOutbox), int(written)-want)
	t.Logf("figure: S5 after the restart (%s): all %d accepted messages delivered in order, the last %v after the restart; %d duplicates",
		regexp.MustCompile(`pending=\d+`).FindString(recovered.Text), want, got.last.Sub(restart).Round(time.Millisecond), got.dups)
}

// seqs is the set of burst numbers among msgs.
func seqs(msgs []clients.Message, prefix string) map[int]bool {
	s := map[int]bool{}
	for _, m := range msgs {
		if sm := seqInPayload.FindSubmatch(m.Payload); sm != nil && string(sm[1]) == prefix {
			i, _ := strconv.Atoi(string(sm[2]))
			s[i] = true
		}
	}
	return s
}

// outboxSeqs is the set of burst numbers whose payloads are in the files
// under dir.
func outboxSeqs(t testing.TB, dir, prefix string) map[int]bool {
	t.Helper()
	s := map[int]bool{}
	re := regexp.MustCompile(`"line":"` + regexp.QuoteMeta(prefix) + `(\d+)"`)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, sm := range re.FindAllSubmatch(data, -1) {
			i, _ := strconv.Atoi(string(sm[1]))
			s[i] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the outbox under %s: %v", dir, err)
	}
	return s
}
