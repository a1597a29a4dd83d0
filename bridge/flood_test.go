package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// pahoMessage is a message as paho hands it to the bridge's callback; Ack
// counts the acknowledgements.
type pahoMessage struct {
	topic   string
	payload []byte
	qos     byte
	acks    *atomic.Int64
}

func (m *pahoMessage) Duplicate() bool   { return false }
func (m *pahoMessage) Qos() byte         { return m.qos }
func (m *pahoMessage) Retained() bool    { return false }
func (m *pahoMessage) Topic() string     { return m.topic }
func (m *pahoMessage) MessageID() uint16 { return 0 }
func (m *pahoMessage) Payload() []byte   { return m.payload }
func (m *pahoMessage) Ack()              { m.acks.Add(1) }

// inject calls the bridge's paho callback from another goroutine, as
// paho's router does: n0 QoS 0 messages on topic0, then n1 QoS 1 on topic1.
func inject(b *Bridge, c *conn, acks *atomic.Int64, topic0 string, n0 int, topic1 string, n1 int) {
	payload := make([]byte, 64)
	for i := range n0 {
		c.onMessage(nil, &pahoMessage{topic0, payload, 0, acks})
		_ = i
	}
	for i := range n1 {
		c.onMessage(nil, &pahoMessage{topic1, []byte(strconv.Itoa(i)), 1, acks})
	}
}

// A flood of 100 000 QoS 0 and 10 000 QoS 1 messages arrives through
// paho's callback while the loop is held (a task that does not give it
// back: a hog, a stuck disk). Memory stays bounded: at most
// WithQoS0Backlog QoS 0 messages wait for the loop; the others are dropped
// in the callback and counted for their binding. No QoS 1 message is
// dropped: each waits, unacknowledged — the broker's in-flight window
// bounds how many (here the test's sender has none) — and once the loop is
// back every one reaches its binding, in order, and is acknowledged.
func TestFloodWhileLoopHeld(t *testing.T) {
	const (
		n0, n1  = 100_000, 10_000
		backlog = 256
		fast    = "edgeagent/n1/fast"
		cmd     = "edgeagent/n1/cmd"
	)
	readings := primitives.NewQueue[Message](16)
	var cmds []string
	var acks atomic.Int64
	opts := append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithQoS0Backlog(backlog))
	scenario(t, opts,
		func(b *Bridge) error {
			return errors.Join(
				b.Subscribe(fast, readings, Sub{QoS: 0, WhenFull: DropOldest}),
				b.SubscribeFunc(cmd, 1, func(m Message) { cmds = append(cmds, string(m.Payload)) }),
			)
		},
		func(tk *loop.Task, b *Bridge) error {
			if err := tk.Yield(); err != nil { // Run has started
				return err
			}
			c := &conn{b: b, lost: make(chan struct{})}
			flooded := make(chan struct{})
			go func() {
				defer close(flooded)
				inject(b, c, &acks, fast, n0, cmd, n1)
			}()
			// Hold the loop: this task does not await until the flood is in.
			<-flooded //loopvet:ok the test holds the loop on purpose, as a hog would
			in := b.Stats().Inflow
			if in.QoS0MaxQueued != backlog || in.QoS0Queued != backlog || in.QoS0Shed != n0-backlog ||
				in.QoS1Queued != n1 || in.QoS1MaxQueued != n1 || acks.Load() != 0 {
				return fmt.Errorf("while held: inflow %+v, %d acks", in, acks.Load())
			}
			// Let go: the loop takes what waited.
			if err := waitStats(tk, b, func(s Stats) bool {
				return bindingStats(s, cmd).Acked == n1 && s.Inflow.QoS0Queued == 0 && s.Inflow.QoS1Queued == 0
			}); err != nil {
				return err
			}
			fs := bindingStats(b.Stats(), fast)
			if fs.Shed != n0-backlog || fs.Received != backlog || fs.Dropped != backlog-uint64(readings.Len()) {
				return fmt.Errorf("QoS 0 binding %+v, %d queued", fs, readings.Len())
			}
			if len(cmds) != n1 {
				return fmt.Errorf("%d QoS 1 messages arrived, want %d", len(cmds), n1)
			}
			for i, c := range cmds {
				if c != strconv.Itoa(i) {
					return fmt.Errorf("QoS 1 message %d is %q: out of order", i, c)
				}
			}
			// Each was acknowledged to paho once taken.
			if err := waitStats(tk, b, func(s Stats) bool { return s.Acked == n1 }); err != nil {
				return err
			}
			if acks.Load() != n1 {
				return fmt.Errorf("%d acknowledgements reached paho, want %d", acks.Load(), n1)
			}
			return nil
		})
}

// The same through a real broker (mochi, in the process): a flood while
// the loop is held is dropped in paho's callback, counted for its binding;
// QoS 1 waits and all of it arrives once the loop is back.
func TestFloodThroughBroker(t *testing.T) {
	const (
		n0, n1  = 5_000, 500
		backlog = 128
		fast    = "edgeagent/n1/fast"
		cmd     = "edgeagent/n1/cmd"
	)
	br := startBroker(t, brokerOpts{Queue: 2 * (n0 + n1)})
	var seen0, seen1 atomic.Int64
	allQoS1 := make(chan struct{})
	onMessage := func(m Message) {
		switch {
		case m.Topic == fast:
			seen0.Add(1)
		case m.Topic == cmd && seen1.Add(1) == n1:
			close(allQoS1)
		}
	}
	readings := primitives.NewQueue[Message](16)
	var cmds []string
	// A long keep-alive: the broker's answer to a ping waits behind the
	// flood in its queue to the node.
	opts := append(fastOpts(t, "n1", br.URL()), WithKeepAlive(time.Minute), WithQoS0Backlog(backlog), withOnMessage(onMessage))
	scenario(t, opts,
		func(b *Bridge) error {
			return errors.Join(
				b.Subscribe(fast, readings, Sub{QoS: 0, WhenFull: DropOldest}),
				b.SubscribeFunc(cmd, 1, func(m Message) { cmds = append(cmds, string(m.Payload)) }),
			)
		},
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			flooded := make(chan error, 1)
			go func() {
				if err := brokerFlood(br, fast, n0, cmd, n1); err != nil {
					flooded <- err
					return
				}
				select {
				case <-allQoS1: // every message has reached the bridge's callback
					flooded <- nil
				case <-time.After(testTimeout): // the loop is held: no WaitFor can fire
					flooded <- fmt.Errorf("only %d of %d QoS 1 messages reached the bridge", seen1.Load(), n1)
				}
			}()
			if err := <-flooded; err != nil { //loopvet:ok the test holds the loop on purpose, as a hog would
				return err
			}
			in := b.Stats().Inflow
			got0 := uint64(seen0.Load())
			if in.QoS0MaxQueued > backlog || in.QoS0Shed != got0-uint64(in.QoS0Queued) || in.QoS1Queued < n1 {
				return fmt.Errorf("while held: inflow %+v after %d QoS 0 arrivals", in, got0)
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				return bindingStats(s, cmd).Acked == n1 && s.Inflow.QoS0Queued == 0 && s.Inflow.QoS1Queued == 0
			}); err != nil {
				return err
			}
			if fs := bindingStats(b.Stats(), fast); fs.Shed != in.QoS0Shed || fs.Shed+fs.Received != got0 {
				return fmt.Errorf("QoS 0 binding %+v after %d arrivals", fs, got0)
			}
			for i, c := range cmds {
				if c != strconv.Itoa(i) {
					return fmt.Errorf("QoS 1 message %d is %q: out of order", i, c)
				}
			}
			if len(cmds) != n1 {
				return fmt.Errorf("%d QoS 1 messages arrived, want %d", len(cmds), n1)
			}
			return nil
		})
}

// brokerFlood publishes from inside the broker.
func brokerFlood(br *bridgetest.Broker, topic0 string, n0 int, topic1 string, n1 int) error {
	payload := make([]byte, 64)
	for range n0 {
		if err := br.Publish(topic0, payload, 0); err != nil {
			return err
		}
	}
	for i := range n1 {
		if err := br.Publish(topic1, []byte(strconv.Itoa(i)), 1); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkFloodHeap: the heap held while 100 000 QoS 0 messages of 64
// bytes arrive at a bridge whose loop is held, through the bridge's
// callback (bounded by WithQoS0Backlog, 1024) and, as the baseline, through
// the unbounded Post every message took before. Reported: the live heap at
// the high-water mark (everything arrived, nothing yet taken), in MB.
func BenchmarkFloodHeap(b *testing.B) {
	const n0 = 100_000
	for _, bounded := range []bool{true, false} {
		name := "bounded"
		if !bounded {
			name = "unbounded-post"
		}
		b.Run(name, func(b *testing.B) {
			var high float64
			for b.Loop() {
				high = max(high, floodHeap(b, n0, bounded))
			}
			b.ReportMetric(high/(1<<20), "heap-MB")
		})
	}
}

// floodHeap floods one bridge and returns the live heap growth, in bytes,
// at the moment the flood is in and the loop not yet back.
func floodHeap(b *testing.B, n0 int, bounded bool) float64 {
	l := loop.New(loop.WithLogger(quietLogger()))
	br, err := New(l, WithBrokers("tcp://127.0.0.1:1"), WithNode("n1"), WithStateDir(b.TempDir()), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	q := primitives.NewQueue[Message](16)
	if err := br.Subscribe("edgeagent/n1/fast", q, Sub{WhenFull: DropOldest}); err != nil {
		b.Fatal(err)
	}
	var acks atomic.Int64
	c := &conn{b: br, lost: make(chan struct{})}
	var growth float64
	err = l.Run(b.Context(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		defer g.Cancel()
		g.Go("bridge", br.Run)
		if err := tk.Yield(); err != nil { // Run has started
			return err
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		go func() {
			defer close(done)
			payload := make([]byte, 64)
			for range n0 {
				m := &pahoMessage{"edgeagent/n1/fast", append([]byte(nil), payload...), 0, &acks}
				if bounded {
					c.onMessage(nil, m)
					continue
				}
				msg := Message{Topic: m.topic, Payload: m.payload}
				_ = br.l.Post(func() { br.route(c, msg, m) })
			}
		}()
		<-done //loopvet:ok the benchmark holds the loop on purpose
		runtime.GC()
		runtime.ReadMemStats(&after)
		growth = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return growth
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
