package integration

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 3 (issue 14): the broker is stopped for 30 s (container stop,
// start on the same address) while the agent produces 1000 QoS 1 events:
// all 1000 reach a persistent-session QoS 1 subscriber after the
// reconnect, in order; duplicates are counted. The broker runs with
// persistence: without it a restarted Mosquitto forgets the subscriber's
// session and what it had queued for it (an operator's broker needs
// `persistence true` for the same reason).
func TestScenario3BrokerStopped(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{Persistence: true})
	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-s3", Devices: []string{PtyDevice("burst")}})
	sub := clients.Connect(t, clients.PahoOptions{URL: b.URL(), ClientID: "it-s3-sub", Persistent: true,
		KeepAlive: 2 * time.Second, PingTimeout: 2 * time.Second,
		AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	events := sub.Subscribe(t, a.Topic("burst", "event"), 1)

	const n, outage = 1000, 30 * time.Second
	// 1000 events over about 30 s: the first hundred with the broker up,
	// the rest while it is away.
	prod := startProducer(t, a, "burst", "s3-", n, 30*time.Millisecond)
	prod.waitWritten(t, 100, 30*time.Second)

	mark := a.Proc().LineCount()
	stopAt := time.Now()
	stop := b.Stop(t)
	lost := a.WaitLost(t, mark, 10*time.Second)
	// The outage itself is the scenario, not a wait for something to settle.
	<-time.After(time.Until(stopAt.Add(outage)))
	written := prod.written.Load()
	mark = a.Proc().LineCount()
	back := time.Now()
	start := b.Start(t)
	a.WaitOnline(t, mark, 30*time.Second)
	reconnected := a.Proc().Lines()[mark:]
	var connAt time.Time
	for _, l := range reconnected {
		if connectedLine.MatchString(l.Text) {
			connAt = l.At
			break
		}
	}
	prod.wait(t, time.Minute)
	got := distinctInOrder(t, events, "s3-", n, 60*time.Second)
	t.Logf("figure: S3 broker stopped %v (stop took %v, the agent noticed %v after the stop began), %d of %d events produced meanwhile; broker start (until ready) %v, agent reconnected %v after the start began",
		back.Sub(stopAt).Round(time.Millisecond), stop.Round(time.Millisecond), lost.At.Sub(stopAt).Round(time.Millisecond),
		written-100, n, start.Round(time.Millisecond), connAt.Sub(back).Round(time.Millisecond))
	t.Logf("figure: S3 delivered %d/%d in order to the persistent QoS 1 subscriber, %d duplicates, the last %v after the start began",
		n, n, got.dups, got.last.Sub(back).Round(time.Millisecond))
}

// producer writes numbered lines prefix00000… to a pty device, one every
// `every` (0: as fast as the pty takes them), from its own goroutine.
type producer struct {
	written atomic.Int64
	done    chan error
}

func startProducer(t testing.TB, a *Agent, device, prefix string, n int, every time.Duration) *producer {
	t.Helper()
	f, err := os.OpenFile(a.PtyPath(device), os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty of %s: %v", device, err)
	}
	p := &producer{done: make(chan error, 1)}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		defer f.Close()
		var tick <-chan time.Time
		if every > 0 {
			tk := time.NewTicker(every)
			defer tk.Stop()
			tick = tk.C
		}
		for i := range n {
			if _, err := fmt.Fprintf(f, "%s%05d\n", prefix, i); err != nil {
				p.done <- fmt.Errorf("line %d: %w", i, err)
				return
			}
			p.written.Add(1)
			if tick == nil {
				select {
				case <-stop:
					p.done <- fmt.Errorf("stopped after %d lines", i+1)
					return
				default:
				}
				continue
			}
			select {
			case <-tick:
			case <-stop:
				p.done <- fmt.Errorf("stopped after %d lines", i+1)
				return
			}
		}
		p.done <- nil
	}()
	return p
}

// waitWritten polls until k lines were written.
func (p *producer) waitWritten(t testing.TB, k int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.written.Load() < k {
		select {
		case err := <-p.done:
			t.Fatalf("producer ended after %d lines: %v", p.written.Load(), err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("producer wrote %d of %d lines within %v", p.written.Load(), k, timeout)
		}
	}
}

// wait waits for the producer to finish.
func (p *producer) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("producer: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("producer not done within %v (%d lines)", timeout, p.written.Load())
	}
}
