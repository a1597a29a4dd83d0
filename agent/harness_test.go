package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/demobroker"
	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/loop"
)

// waitLimit bounds every wait for something that must happen: generous,
// since it matters only when the code under test is broken (the waits are
// on real signals, never on time).
const waitLimit = 20 * time.Second

// msg is one message the test client received.
type msg struct {
	Topic    string
	Payload  string
	Retained bool
}

// harness is an agent on a virtual clock, an in-process broker, and a
// client that records every message under edgeagent/ and homeassistant/.
type harness struct {
	t      *testing.T
	a      *Agent
	broker *demobroker.Broker
	client mqtt.Client
	dir    string
	logs   *logRecorder

	mu      sync.Mutex
	msgs    []msg
	changed chan struct{}

	done chan error
	stop context.CancelFunc

	release func() // lets the held clock go (holdClock)
}

// logRecorder keeps the agent's log records for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler { return &attrHandler{r, as} }
func (r *logRecorder) WithGroup(string) slog.Handler         { return r }

// attrHandler keeps the attributes of a With logger.
type attrHandler struct {
	r  *logRecorder
	as []slog.Attr
}

func (h *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(h.as...)
	return h.r.Handle(ctx, rec)
}
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{h.r, append(append([]slog.Attr{}, h.as...), as...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }

// has reports whether a record contains every part.
func (r *logRecorder) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, rec := range r.records {
		for _, p := range parts {
			if !strings.Contains(rec, p) {
				continue next
			}
		}
		return true
	}
	return false
}

// testConfig fills a configuration's BROKER and STATE_DIR.
func testConfig(broker, dir, yaml string) []byte {
	return []byte(strings.NewReplacer("BROKER", broker, "STATE_DIR", dir).Replace(yaml))
}

// start starts an agent of yaml (its BROKER and STATE_DIR filled in),
// written to a file so reloads can change it.
func start(t *testing.T, yaml string, opts ...Option) *harness {
	t.Helper()
	return startHook(t, yaml, nil, opts...)
}

// serveBroker starts an in-process broker for the test.
func serveBroker(t *testing.T) *demobroker.Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := demobroker.Serve(ln, demobroker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// holdClock holds the virtual clock from Run until the test's first on
// (or the shutdown): the agent connects and publishes its first states, but
// no timer fires while the test prepares the outside world (a second
// broker, a client) — else the clock runs free until the test's first task,
// which may be minutes of virtual time, and what the test expects at a
// given time has already happened.
func (h *harness) holdClock() {
	release := make(chan struct{})
	var once sync.Once
	h.release = func() { once.Do(func() { close(release) }) }
	h.t.Cleanup(h.release) // before the shutdown, registered earlier
	if err := h.a.l.Post(func() { goHold(h.a.l, "test-hold", release) }); err != nil {
		h.t.Fatal(err)
	}
}

// goHold starts a task on l (from the loop) that holds the virtual clock
// until release is closed or the loop stops: an Offload in progress is work
// the clock waits for.
func goHold(l *loop.Loop, name string, release <-chan struct{}) {
	l.Go(name, func(t *loop.Task) error {
		_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return struct{}{}, nil
		})
		return err
	})
}

// startHook is start with a hook that sees the agent before it runs.
func startHook(t *testing.T, yaml string, hook func(*Agent), opts ...Option) *harness {
	t.Helper()
	broker := serveBroker(t)
	h := &harness{t: t, broker: broker, dir: t.TempDir(), logs: &logRecorder{}, changed: make(chan struct{})}
	h.client = h.connect("observer")
	if tok := h.client.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) {
		h.mu.Lock()
		h.msgs = append(h.msgs, msg{m.Topic(), string(m.Payload()), m.Retained()})
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
	}); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	path := h.writeConfig(yaml)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]Option{WithClock(loop.NewVirtualClock()), WithLogger(slog.New(h.logs)),
		WithNotifier(&sdnotify.Notifier{}), WithVersion("test")}, opts...)
	a, err := New(cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	if hook != nil {
		hook(a)
	}
	h.holdClock()
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		if h.stop != nil {
			if err := h.shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
	})
	return h
}

// writeConfig writes the agent's configuration file and returns its path.
func (h *harness) writeConfig(yaml string) string {
	path := filepath.Join(h.dir, "config.yaml")
	if err := os.WriteFile(path, testConfig(h.broker.URL(), h.dir, yaml), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// shutdown stops the agent as SIGTERM does and returns Run's result.
func (h *harness) shutdown() error {
	h.release()
	h.stop()
	h.stop = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(waitLimit):
		return errors.New("Run did not return")
	}
}

func (h *harness) connect(id string) mqtt.Client {
	o := mqtt.NewClientOptions().AddBroker(h.broker.URL()).SetClientID(id).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		h.t.Fatalf("%s: connect: %v", id, tok.Error())
	}
	h.t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// waitMsgs waits, in real time, until cond holds of the messages received
// so far.
func (h *harness) waitMsgs(ctx context.Context, what string, cond func([]msg) bool) error {
	for {
		h.mu.Lock()
		ok, ch := cond(h.msgs), h.changed
		h.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w\nreceived:\n%s", what, ctx.Err(), h.dump())
		}
	}
}

func (h *harness) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, m := range h.msgs {
		fmt.Fprintf(&b, "  %s %q retained=%v\n", m.Topic, m.Payload, m.Retained)
	}
	return b.String()
}

// messages returns the messages received on topic.
func (h *harness) messages(topic string) []msg {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []msg
	for _, m := range h.msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// on runs fn as a task on the agent's loop and waits for it. fn waits for
// the outside world (the broker, the test client) through realWait, which
// holds the virtual clock still meanwhile; its own sleeps move the clock.
func (h *harness) on(fn func(t *loop.Task) error) {
	h.t.Helper()
	res := make(chan error, 1)
	err := h.a.l.Post(func() {
		h.a.l.Go("test", func(t *loop.Task) error {
			// The clock goes on from here, with this task on the loop: its
			// first await decides whether it moves.
			h.release()
			err := func() (err error) {
				defer func() {
					// A panic would end the task without an answer, and the
					// test would wait for it until its timeout.
					if r := recover(); r != nil {
						err = fmt.Errorf("test task panicked: %v\n%s", r, debug.Stack())
					}
				}()
				return fn(t)
			}()
			_, oerr := loop.Offload(t, func(context.Context) (struct{}, error) {
				res <- err
				return struct{}{}, nil
			})
			return oerr
		})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	select {
	case err := <-res:
		if err != nil {
			h.t.Fatal(err)
		}
	case <-time.After(2 * waitLimit):
		h.t.Fatal("the test task did not finish")
	}
}

// disconnected returns a channel closed once the agent's bridge no longer
// counts as connected. Call it on the loop and wait on it with realWait, so
// the virtual clock stands still until the bridge has seen the loss.
func (h *harness) disconnected() <-chan struct{} {
	gone := make(chan struct{})
	b := h.a.b
	h.a.l.Go("test-disconnected", func(t *loop.Task) error {
		for b.Connected() {
			if err := b.WaitChange(t); err != nil {
				return err
			}
		}
		close(gone)
		return nil
	})
	return gone
}

// realWait runs fn off the loop, in real time, with the virtual clock held.
func realWait(t *loop.Task, fn func(ctx context.Context) error) error {
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		return struct{}{}, fn(ctx)
	})
	return err
}

// waitFor is realWait on the received messages.
func (h *harness) waitFor(t *loop.Task, what string, cond func([]msg) bool) error {
	return realWait(t, func(ctx context.Context) error { return h.waitMsgs(ctx, what, cond) })
}

// waitPayload waits until a message on topic satisfies match.
func (h *harness) waitPayload(t *loop.Task, topic string, match func(string) bool) error {
	return h.waitFor(t, topic, func(ms []msg) bool {
		for _, m := range ms {
			if m.Topic == topic && match(m.Payload) {
				return true
			}
		}
		return false
	})
}

// value reads the value of a state payload.
func value(payload string) any {
	var s statePayload
	if json.Unmarshal([]byte(payload), &s) != nil {
		return nil
	}
	return s.Value
}

// publish publishes from a second client.
func (h *harness) publish(topic, payload string) {
	h.t.Helper()
	c := h.connect(fmt.Sprintf("pub-%d", time.Now().UnixNano()))
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		h.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// callReply is a reply to a request.
type callReply struct {
	ID     string          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// call sends a request to the agent from a client and returns the reply.
func (h *harness) call(ctx context.Context, method string, params any) (callReply, error) {
	id := fmt.Sprintf("c%d", time.Now().UnixNano())
	replyTo := "edgeagent/_client/" + id + "/reply"
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(h.broker.URL()).SetClientID(id).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return callReply{}, tok.Error()
	}
	defer c.Disconnect(0)
	got := make(chan callReply, 1)
	if tok := c.Subscribe(replyTo, 1, func(_ mqtt.Client, m mqtt.Message) {
		var r callReply
		if json.Unmarshal(m.Payload(), &r) == nil && r.ID == id {
			select {
			case got <- r:
			default:
			}
		}
	}); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return callReply{}, tok.Error()
	}
	req, _ := json.Marshal(map[string]any{"id": id, "reply_to": replyTo, "params": params})
	if tok := c.Publish("edgeagent/test/req/"+method, 1, false, req); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return callReply{}, tok.Error()
	}
	select {
	case r := <-got:
		return r, nil
	case <-ctx.Done():
		return callReply{}, fmt.Errorf("no reply to %s: %w", method, ctx.Err())
	}
}

// callOn is call from a task on the loop, with the clock held.
func (h *harness) callOn(t *loop.Task, method string, params any) (callReply, error) {
	var r callReply
	err := realWait(t, func(ctx context.Context) error {
		var err error
		r, err = h.call(ctx, method, params)
		return err
	})
	return r, err
}

func containsJSON(raw json.RawMessage, part string) bool {
	return bytes.Contains(raw, []byte(part))
}
