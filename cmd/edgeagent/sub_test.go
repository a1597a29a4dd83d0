package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/agent/demobroker"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// waitLimit bounds every wait for something that must happen; it only
// matters when the code under test is broken.
const waitLimit = 10 * time.Second

// The payloads sub meets, rendered as it prints them.
func TestFormatMessageGolden(t *testing.T) {
	at := time.Date(2026, 12, 2, 14, 3, 7, 250_000_000, time.UTC)
	long := strings.Repeat("x", 290) + "°°°°°°" // a two-byte character across the cut
	cases := []struct {
		topic    string
		retained bool
		payload  string
		max      int
	}{
		{"edgeagent/porch/availability", true, "online", 300},
		{"edgeagent/porch/relay/state", false, "ON", 300},
		{"edgeagent/porch/htu21d/state", true, "21.5", 300},
		{"edgeagent/porch/doorbell/event", false, "{\n  \"event_type\": \"single\",\n  \"at\": \"2026-12-02T14:03:07Z\"\n}\n", 300},
		{"edgeagent/porch/status", false, `{"uptime": 12, "devices": {"relay": {"state": "ON", "errors": 0}, "doorbell": {"state": "idle", "errors": 0}}, "outbox": 0}`, 60},
		{"homeassistant/device/porch/config", true, "", 300},
		{"edgeagent/porch/uart/state", false, "line one\nline two\t(tab)", 300},
		{"edgeagent/porch/uart/state", false, "bell\a and escape \x1b[31mred", 300},
		{"edgeagent/porch/temp/state", false, "21.5 °C", 300},
		{"edgeagent/porch/ir/raw", false, "\x00\x01\x02\xfe\xff", 300},
		{"edgeagent/porch/ir/raw", false, strings.Repeat("\x00\xff", 100), 40},
		{"edgeagent/porch/name/state", false, "caf\xe9", 300},
		{"edgeagent/porch/json/state", false, "{\"s\":\"a\u0085b\u2028c\x7f\"}", 300},
		{"edgeagent/porch/long/state", false, long, 291},
		{"edgeagent/porch/long/state", false, long, 0},
		{"edgeagent/odd topic/state", false, "ok", 300},
		{"edgeagent/odd\ntopic/state", false, "ok", 300},
	}
	var b strings.Builder
	for _, c := range cases {
		b.WriteString(formatMessage(at, c.topic, c.retained, []byte(c.payload), c.max))
		b.WriteByte('\n')
	}
	got := b.String()
	for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if !isPlain(line) {
			t.Errorf("line %d has control characters: %q", i+1, line)
		}
	}
	path := filepath.Join("testdata", "sub.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

func TestSubFilters(t *testing.T) {
	base := subOptions{base: "edgeagent", prefix: "homeassistant", maxPayload: 300}
	with := func(f func(*subOptions)) subOptions { o := base; f(&o); return o }
	for _, c := range []struct {
		o    subOptions
		args []string
		want string // filters joined by " ", or the error
	}{
		{base, nil, "edgeagent/# homeassistant/device/+/config"},
		{with(func(o *subOptions) { o.node = "porch" }), nil, "edgeagent/porch/# homeassistant/device/porch/config"},
		{with(func(o *subOptions) { o.base = "home/agents"; o.prefix = "ha" }), nil, "home/agents/# ha/device/+/config"},
		{base, []string{"edgeagent/+/status"}, "edgeagent/+/status"},
		{base, []string{"#"}, "#"},
		{with(func(o *subOptions) { o.node = "porch" }), []string{"a/#"}, "error: give either a filter or --node, not both"},
		{base, []string{"a/#/b"}, `error: filter "a/#/b": '#' must be the whole last level`},
		{base, []string{"a/b+"}, `error: filter "a/b+": '+' must be a whole level`},
		{base, []string{""}, `error: filter "": empty`},
		{with(func(o *subOptions) { o.node = "por/ch" }), nil, `error: --base "edgeagent", --node "por/ch": `},
		{with(func(o *subOptions) { o.base = "edge/#" }), nil, `error: --base "edge/#", --node "": `},
		{with(func(o *subOptions) { o.prefix = "ha/+" }), nil, `error: --discovery-prefix "ha/+", --node "": `},
		{with(func(o *subOptions) { o.maxPayload = -1 }), nil, "error: --max-payload -1: must be 0 (all) or more"},
	} {
		fs, err := c.o.filters(c.args)
		got := strings.Join(fs, " ")
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) || err == nil && got != c.want {
			t.Errorf("filters(%+v, %q) = %s, want %s", c.o, c.args, got, c.want)
		}
	}
}

// syncBuffer is a bytes.Buffer for one writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the complete lines written so far, without their time
// column (the first field).
func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.SplitAfter(b.buf.String(), "\n") {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		_, rest, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
		out = append(out, rest)
	}
	return out
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLines waits until out holds n lines and returns them.
func waitLines(t *testing.T, out *syncBuffer, n int, done <-chan error) []string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if l := out.lines(); len(l) >= n {
			return l
		}
		select {
		case err := <-done:
			t.Fatalf("sub ended early: %v; output:\n%s", err, out)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d lines; output:\n%s", n, out)
		}
	}
}

// startSub runs `edgeagent sub args…` as main would, until the returned
// cancel (the interrupt).
func startSub(t *testing.T, args ...string) (out, errOut *syncBuffer, done chan error, cancel func()) {
	t.Helper()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	root := newRootCommand()
	root.SetArgs(append([]string{"sub"}, args...))
	root.SetOut(out)
	root.SetErr(errOut)
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(waitLimit):
			t.Error("sub did not end after the interrupt")
		}
	})
	return out, errOut, done, cancel
}

// testPublisher returns a function that publishes at QoS 1 and waits for
// the acknowledgement. Call it with topic "" before subscribing: mochi
// acknowledges a publication before it hands it to subscribers, and handles
// one client's packets in order, so once that barrier is acknowledged
// everything above has been delivered to the subscribers there were, and
// a later subscriber sees a retained message once, as retained.
func testPublisher(t *testing.T, url string) func(topic string, retained bool, payload string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("test-publisher").SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return func(topic string, retained bool, payload string) {
		t.Helper()
		if topic == "" {
			topic = "test/barrier"
		}
		if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
}

func startBroker(t *testing.T) *demobroker.Broker {
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

// The command end to end against the demo's broker: one node's retained
// state and discovery config first, then its live messages and none of
// another node's, until interrupted, which ends it without an error.
func TestSubOneNode(t *testing.T) {
	b := startBroker(t)
	pub := testPublisher(t, b.URL())
	pub("edgeagent/porch/availability", true, "online")
	pub("homeassistant/device/porch/config", true, "{\n \"dev\": {\"name\": \"Porch\"}\n}")
	pub("edgeagent/kitchen/availability", true, "online")
	pub("homeassistant/device/kitchen/config", true, `{"dev":{"name":"Kitchen"}}`)
	pub("", false, "")

	out, errOut, done, cancel := startSub(t, "--broker", b.URL(), "--node", "porch")
	retained := waitLines(t, out, 2, done)
	wantRetained := map[string]bool{
		"edgeagent/porch/availability [retained] online":                        true,
		`homeassistant/device/porch/config [retained] {"dev":{"name":"Porch"}}`: true,
	}
	if len(retained) != 2 || !wantRetained[retained[0]] || !wantRetained[retained[1]] || retained[0] == retained[1] {
		t.Fatalf("retained lines %q, want %v", retained, wantRetained)
	}

	pub("edgeagent/kitchen/relay/state", false, "OFF") // another node: not shown
	pub("edgeagent/porch/relay/state", false, "ON")
	pub("edgeagent/porch/doorbell/event", false, `{"event_type": "double"}`)
	got := waitLines(t, out, 4, done)
	want := []string{"edgeagent/porch/relay/state ON", `edgeagent/porch/doorbell/event {"event_type":"double"}`}
	if fmt.Sprint(got[2:]) != fmt.Sprint(want) {
		t.Fatalf("live lines %q, want %q", got[2:], want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sub after the interrupt: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("sub did not end after the interrupt")
	}
	if !strings.Contains(errOut.String(), "subscribed to edgeagent/porch/#, homeassistant/device/porch/config on "+b.URL()) {
		t.Errorf("stderr: %q", errOut)
	}
	if l := out.lines(); len(l) != 4 {
		t.Errorf("output after the interrupt:\n%s", out)
	}
}

// Without --node every node shows; a filter argument replaces the default
// subscriptions.
func TestSubAllNodesAndFilter(t *testing.T) {
	b := startBroker(t)
	pub := testPublisher(t, b.URL())
	pub("edgeagent/porch/availability", true, "online")
	pub("edgeagent/kitchen/availability", true, "offline")
	pub("homeassistant/device/kitchen/config", true, `{}`)
	pub("", false, "")

	out, _, done, _ := startSub(t, "--broker", b.URL())
	got := waitLines(t, out, 3, done)
	for _, w := range []string{"edgeagent/porch/availability [retained] online", "edgeagent/kitchen/availability [retained] offline", "homeassistant/device/kitchen/config [retained] {}"} {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("all nodes: lines %q lack %q", got, w)
		}
	}

	out, _, done, _ = startSub(t, "--broker", b.URL(), "edgeagent/+/availability")
	waitLines(t, out, 2, done)
	pub("homeassistant/device/porch/config", false, "{}") // outside the filter
	pub("edgeagent/porch/availability", false, "offline")
	got = waitLines(t, out, 3, done)
	if got[2] != "edgeagent/porch/availability offline" {
		t.Errorf("filter: lines %q", got)
	}
}

func TestSubBrokerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + ln.Addr().String()
	ln.Close() // nobody listens there now
	_, _, done, _ := startSub(t, "--broker", url)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "connect to "+url) {
			t.Fatalf("sub with no broker: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("sub with no broker did not give up")
	}
}
