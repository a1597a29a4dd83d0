package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// seqWriter writes numbered lines ("1", "2", …) to an agent's pty device at
// a steady pace from its own goroutine until stopped, so that events flow
// through every fault of a scenario.
type seqWriter struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	written int
	err     error
}

func startSeqWriter(a *Agent, device string, every time.Duration) *seqWriter {
	w := &seqWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		f, err := os.OpenFile(a.PtyPath(device), os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			w.fail(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(f, "%d\n", n); err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			w.written = n
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *seqWriter) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// Stop ends the writing and returns how many lines were written.
func (w *seqWriter) Stop(t *testing.T) int {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		t.Fatalf("writing to the pty: %v", w.err)
	}
	return w.written
}

// Written is the number of lines written so far.
func (w *seqWriter) Written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// eventSeq is the number a seqWriter line carries in its event.
func eventSeq(m clients.Message) (int, bool) {
	var e struct {
		Line string `json:"line"`
	}
	if json.Unmarshal(m.Payload, &e) != nil {
		return 0, false
	}
	n, err := strconv.Atoi(e.Line)
	return n, err == nil
}

// seqCount counts the distinct numbered events in msgs and the duplicates.
func seqCount(msgs ...[]clients.Message) (seen map[int]int, dups int) {
	seen = map[int]int{}
	for _, ms := range msgs {
		for _, m := range ms {
			if n, ok := eventSeq(m); ok {
				seen[n]++
				if seen[n] > 1 {
					dups++
				}
			}
		}
	}
	return seen, dups
}

// Scenario 6: two brokers. The first is stopped; the agent fails over to
// the second and, once the first is back, returns to it; the events it
// produced all along arrive, none lost.
func TestScenario6Failover(t *testing.T) {
	t.Parallel()
	env.Require(t)
	first := env.Start(t, mosquitto.Config{Name: "s6-first", Persistence: true})
	second := env.Start(t, mosquitto.Config{Name: "s6-second", Persistence: true})
	const returnInterval = 2 * time.Second
	a := NewAgent(t, AgentConfig{NodeID: "s6-node", Brokers: []string{first.URL(), second.URL()},
		ReturnInterval: returnInterval, NoHomeAssistant: true, Devices: []string{PtyDevice("seq")}})
	topic := a.Topic("seq", "event")

	// A persistent QoS 1 subscriber on each broker: what the agent sends
	// to either is kept for it.
	sub := func(b *mosquitto.Broker) *clients.Collector {
		c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s6-" + b.Name(), Persistent: true,
			KeepAlive: 2 * time.Second, PingTimeout: 2 * time.Second, AutoReconnect: true, MaxReconnectInterval: 250 * time.Millisecond})
		return c.Subscribe(t, topic, 1)
	}
	atFirst, atSecond := sub(first), sub(second)

	a.Start(t)
	a.WaitOnline(t, 0, 30*time.Second)
	p := a.Proc()
	w := startSeqWriter(a, "seq", 10*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			w.Stop(t)
		}
	}()
	atFirst.WaitCount(t, 50, 20*time.Second)

	// Move 1: the first broker goes away.
	mark := p.LineCount()
	stopAt := time.Now()
	stopTook := first.Stop(t)
	lost := p.WaitLine(t, mark, lostLine, 20*time.Second)
	onSecond := p.WaitLine(t, mark, regexp.MustCompile(`msg="bridge: connected" broker=`+regexp.QuoteMeta(second.URL())+`\b`), 20*time.Second)
	failover := onSecond.At.Sub(lost.At)
	t.Logf("figure: S6 failover: first broker stopped (docker stop %v); loss logged %v after the stop began; connected to the second %v after the loss (%v after the stop began)",
		stopTook.Round(time.Millisecond), lost.At.Sub(stopAt).Round(time.Millisecond), failover.Round(time.Millisecond), onSecond.At.Sub(stopAt).Round(time.Millisecond))
	// The agent retries down its list at once after a loss: one connect
	// timeout (3 s) bounds the move.
	if failover > 3*time.Second {
		t.Errorf("failover took %v, want within the connect timeout of 3s", failover)
	}
	before := atSecond.Len()
	atSecond.WaitCount(t, before+100, 20*time.Second)

	// Move 2: the first broker returns; the agent goes back within the
	// return interval.
	mark = p.LineCount()
	startTook := first.Start(t)
	back := time.Now()
	onFirst := p.WaitLine(t, mark, regexp.MustCompile(`msg="bridge: connected" broker=`+regexp.QuoteMeta(first.URL())+`\b`), 3*returnInterval+10*time.Second)
	ret := onFirst.At.Sub(back)
	t.Logf("figure: S6 return: first broker restarted and ready in %v; agent back on it %v later (return_interval %v)",
		startTook.Round(time.Millisecond), ret.Round(time.Millisecond), returnInterval)
	if ret > returnInterval+3*time.Second {
		t.Errorf("return to the first broker took %v, want within return_interval %v and a connect", ret, returnInterval)
	}
	before = atFirst.Len()
	atFirst.WaitCount(t, before+100, 20*time.Second)

	n := w.Stop(t)
	stopped = true
	// Everything written reaches one broker or the other.
	all := func() (map[int]int, int) { return seqCount(atFirst.Messages(), atSecond.Messages()) }
	// Once the agent is back on the first broker, what is still on its way
	// arrives there: wait on that subscriber, judging both.
	// (Await holds the collector's lock: the condition gets its messages.)
	_, _ = atFirst.Await(20*time.Second, func(ms []clients.Message) bool {
		seen, _ := seqCount(ms, atSecond.Messages())
		return len(seen) >= n
	})
	seen, dups := all()
	var missing []int
	for i := 1; i <= n; i++ {
		if seen[i] == 0 {
			missing = append(missing, i)
		}
	}
	t.Logf("figure: S6 events: %d written, %d distinct delivered (%d via the first broker, %d via the second), %d duplicates, %d missing",
		n, len(seen), atFirst.Len(), atSecond.Len(), dups, len(missing))
	if len(missing) > 0 {
		t.Errorf("%d events lost across the two moves, first %v", len(missing), missing[:min(10, len(missing))])
	}
}
