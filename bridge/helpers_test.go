package bridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/loop"
)

// testTimeout bounds every scenario: generous, since it only matters when
// something is broken (the scenarios wait on real signals, never on time).
const testTimeout = bridgetest.Timeout

type brokerOpts = bridgetest.BrokerOptions

func startBroker(t testing.TB, o brokerOpts) *bridgetest.Broker { return bridgetest.StartBroker(t, o) }

func newTestClient(t testing.TB, url, id string, setup ...func(*mqtt.ClientOptions)) *bridgetest.Client {
	return bridgetest.NewClient(t, url, id, setup...)
}

// offloadErr runs fn off the loop and returns its error.
func offloadErr(tk *loop.Task, fn func(ctx context.Context) error) error {
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// waitSubscribed waits, off the loop, until client id holds a
// subscription to filter on br.
func waitSubscribed(tk *loop.Task, br *bridgetest.Broker, id, filter string) error {
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, br.WaitSubscribed(ctx, id, filter)
	})
	return err
}

// waitAcked waits, off the loop, until the broker has the PUBACK of
// payload on topic from client id.
func waitAcked(tk *loop.Task, br *bridgetest.Broker, id, topic, payload string) error {
	_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, br.WaitAcked(ctx, id, topic, payload)
	})
	return err
}

// recv waits, off the loop, for the next message on ch.
func recv(tk *loop.Task, ch <-chan mqtt.Message) (mqtt.Message, error) {
	return loop.Offload(tk, func(ctx context.Context) (mqtt.Message, error) {
		select {
		case m := <-ch:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

// recvPayload waits for the next message on ch and returns its payload.
func recvPayload(tk *loop.Task, ch <-chan mqtt.Message) (string, error) {
	m, err := recv(tk, ch)
	if err != nil {
		return "", err
	}
	return string(m.Payload()), nil
}

// expect waits for the next message on ch and checks its payload.
func expect(tk *loop.Task, ch <-chan mqtt.Message, want string) error {
	got, err := recvPayload(tk, ch)
	if err != nil {
		return fmt.Errorf("waiting for %q: %w", want, err)
	}
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// offload runs a blocking test step off the loop.
func offload(tk *loop.Task, fn func()) error {
	_, err := loop.Offload(tk, func(context.Context) (struct{}, error) {
		fn()
		return struct{}{}, nil
	})
	return err
}

// waitStats waits until pred holds for the bridge's Stats, woken by the
// bridge's own notifications (no polling on a timer).
func waitStats(tk *loop.Task, b *Bridge, pred func(Stats) bool) error {
	for !pred(b.Stats()) {
		if err := b.WaitChange(tk); err != nil {
			return fmt.Errorf("waiting for stats (now %+v): %w", b.Stats(), err)
		}
	}
	return nil
}

// logBuf collects a test's logs, shown only when the test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (lb *logBuf) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.Write(p)
}

func (lb *logBuf) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.buf.String()
}

func testLogger(t testing.TB) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// fastOpts are the options every test bridge uses: a state directory of
// the test's, short back-off, fast shutdown.
func fastOpts(t testing.TB, node string, brokers ...string) []Option {
	return []Option{
		WithBrokers(brokers...),
		WithNode(node),
		WithStateDir(t.TempDir()),
		WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		WithConnectTimeout(2 * time.Second),
		WithKeepAlive(5 * time.Second),
		WithShutdownTimeout(2 * time.Second),
		WithHABirthDelay(0),
	}
}

// scenario runs body as a task next to the bridge's Run, on a loop of its
// own; the bridge is set up by setup (before the loop runs) and shut down
// when body returns.
func scenario(t *testing.T, opts []Option, setup func(b *Bridge) error, body func(tk *loop.Task, b *Bridge) error) (*Bridge, *logBuf) {
	t.Helper()
	log, lb := testLogger(t)
	l := loop.New(loop.WithLogger(log))
	b, err := New(l, append([]Option{WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		if err := setup(b); err != nil {
			_ = b.Close()
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		bt := g.Go("bridge", b.Run)
		err := loop.WaitFor(tk, testTimeout, func(tk *loop.Task) error { return body(tk, b) })
		bt.Cancel()
		if werr := g.Wait(tk); werr != nil && err == nil {
			err = werr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, lb
}

// mustContain fails when s lacks any of subs.
func mustContain(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

// bindingStats returns the stats of the first binding on filter.
func bindingStats(s Stats, filter string) BindingStats {
	for _, b := range s.Bindings {
		if b.Binding == filter && b.Kind != kindBridge {
			return b
		}
	}
	return BindingStats{}
}
