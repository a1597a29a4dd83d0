package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/loop"
)

// A reload that moves the agent to another broker answers the reload
// request through the connection it came by — the first broker — before that
// connection closes; the agent then works on the second broker.
func TestReloadRepliesThroughOldConnection(t *testing.T) {
	h := start(t, baseConfig)
	second := serveBroker(t)
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		old := h.a.b
		h.writeConfig(strings.Replace(baseConfig, "BROKER", second.URL(), 1))
		r, err := h.callOn(t, MethodReload, nil) // on the first broker
		if err != nil {
			return fmt.Errorf("the reply did not come through the old connection: %w", err)
		}
		if r.Error != "" || !containsJSON(r.Result, "MQTT settings changed: reconnected") {
			return fmt.Errorf("reload replied %+v %s", r, r.Result)
		}
		// The reply came first; the reload goes on to the new bridge.
		for h.a.b == nil || h.a.b == old {
			if err := t.Sleep(10 * time.Millisecond); err != nil {
				return err
			}
		}
		if err := h.a.b.WaitConnected(t); err != nil {
			return err
		}
		if got := h.a.b.Stats().Broker; !strings.Contains(got, second.URL()[len("tcp://"):]) {
			return fmt.Errorf("connected to %q, want the second broker %s", got, second.URL())
		}
		// The first broker saw the node leave cleanly.
		return h.waitPayload(t, "edgeagent/test/availability", func(p string) bool { return p == "offline" })
	})
}

// A reload to no devices at all removes the node's device from Home
// Assistant (an empty retained discovery config, so no stale entities
// remain) and clears the removed devices' availability — on the running
// connection.
func TestReloadToZeroDevicesClearsDiscovery(t *testing.T) {
	h := start(t, baseConfig)
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "homeassistant/device/test/config", func(p string) bool { return p != "" }); err != nil {
			return err
		}
		b := h.a.b
		h.writeConfig(strings.SplitAfter(baseConfig, "state_dir: STATE_DIR\n")[0] + "devices: []\n")
		r, err := h.callOn(t, MethodReload, nil)
		if err != nil {
			return err
		}
		if r.Error != "" || !containsJSON(r.Result, "device bell removed") || !containsJSON(r.Result, "discovery updated") {
			return fmt.Errorf("reload replied %+v %s", r, r.Result)
		}
		if err := h.waitPayload(t, "homeassistant/device/test/config", func(p string) bool { return p == "" }); err != nil {
			return err
		}
		for _, dev := range []string{"bell", "relay"} {
			if err := h.waitPayload(t, "edgeagent/test/"+dev+"/availability", func(p string) bool { return p == "" }); err != nil {
				return err
			}
		}
		if h.a.b != b {
			return fmt.Errorf("removing devices replaced the bridge")
		}
		// Nothing retained is left for a Home Assistant that connects now.
		return realWait(t, func(ctx context.Context) error {
			retained, err := h.retained(ctx, "homeassistant/#")
			if err != nil {
				return err
			}
			if len(retained) > 0 {
				return fmt.Errorf("still retained after the reload: %v", retained)
			}
			return nil
		})
	})
}

// A reload applies the log section: its level and format (the loggers
// derived from the agent's follow: TestLogHandlerDerivedFollow).
func TestReloadAppliesLogSettings(t *testing.T) {
	var out lockedBuffer
	h := start(t, baseConfig, WithLogger(slog.New(NewLogHandler(&out, config.Log{Level: slog.LevelInfo, Format: config.LogText}))))
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		if strings.Contains(out.String(), "level=DEBUG") || !strings.Contains(out.String(), "level=INFO") {
			return fmt.Errorf("before the reload, want text at info:\n%s", out.String())
		}
		h.writeConfig(baseConfig + "log: {level: debug, format: json}\n")
		out.Reset()
		r, err := h.callOn(t, MethodReload, nil)
		if err != nil {
			return err
		}
		if r.Error != "" || !containsJSON(r.Result, "log: level DEBUG, format json") {
			return fmt.Errorf("reload replied %+v %s", r, r.Result)
		}
		// What the reload logged before it applied the log section is text;
		// everything from then on is JSON, debug records included.
		text := out.String()
		i := strings.Index(text, `{"time"`)
		if i < 0 || !strings.Contains(text[i:], `"level":"DEBUG","msg":"reload applied"`) {
			return fmt.Errorf("after the reload, want JSON at debug:\n%s", text)
		}
		for _, line := range strings.Split(strings.TrimSpace(text[i:]), "\n") {
			if !strings.HasPrefix(line, "{") {
				return fmt.Errorf("a line is not JSON after the reload: %q", line)
			}
		}
		return nil
	})
}

// lockedBuffer is a bytes.Buffer for a logger on another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// retained returns the retained messages under filter on the test broker,
// as a client that subscribes now gets them: topic → payload. The broker
// sends them right after the SUBACK, before a message the client publishes
// afterwards on a marker topic, which ends the wait.
func (h *harness) retained(ctx context.Context, filter string) (map[string]string, error) {
	id := fmt.Sprintf("retained-%d", time.Now().UnixNano())
	c := h.connect(id)
	defer c.Disconnect(0)
	var mu sync.Mutex
	got := map[string]string{}
	if tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() {
			mu.Lock()
			got[m.Topic()] = string(m.Payload())
			mu.Unlock()
		}
	}); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return nil, fmt.Errorf("subscribe %s: %v", filter, tok.Error())
	}
	marker := "test/marker/" + id
	done := make(chan struct{})
	if tok := c.Subscribe(marker, 1, func(mqtt.Client, mqtt.Message) { close(done) }); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return nil, fmt.Errorf("subscribe %s: %v", marker, tok.Error())
	}
	if tok := c.Publish(marker, 1, false, "x"); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		return nil, fmt.Errorf("publish %s: %v", marker, tok.Error())
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	return got, nil
}

// Loggers derived from a LogHandler before a Set follow it, keeping their
// attributes and groups.
func TestLogHandlerDerivedFollow(t *testing.T) {
	var out lockedBuffer
	h := NewLogHandler(&out, config.Log{Level: slog.LevelInfo, Format: config.LogText})
	dev := slog.New(h).With("device", "relay").WithGroup("g")
	dev.Debug("hidden")
	dev.Info("first", "k", 1)
	if got := out.String(); got == "" || strings.Contains(got, "hidden") || !strings.Contains(got, "device=relay") || !strings.Contains(got, "g.k=1") {
		t.Fatalf("text at info: %q", got)
	}
	out.Reset()
	h.Set(config.Log{Level: slog.LevelDebug, Format: config.LogJSON})
	dev.Debug("second", "k", 2)
	if got := out.String(); !strings.Contains(got, `"level":"DEBUG"`) || !strings.Contains(got, `"device":"relay"`) || !strings.Contains(got, `"g":{"k":2}`) {
		t.Fatalf("JSON at debug: %q", got)
	}
}

// A reload that renews the MQTT connection while the first connection
// attempt is still going on leaves the agent to become ready on the new
// connection: the readiness watcher follows the bridge the reload put in
// place (it is nil in between).
func TestReloadDuringFirstConnectionAttempt(t *testing.T) {
	// A broker that takes the TCP connection and never answers: the first
	// attempt lasts until the reload ends it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	h := start(t, strings.Replace(relayConfig, "BROKER", "tcp://"+ln.Addr().String(), 1))
	h.on(func(t *loop.Task) error {
		if h.a.firstTry {
			return errors.New("ready before the first connection attempt ended")
		}
		old := h.a.b
		h.writeConfig(relayConfig)
		if _, err := h.a.reloadMethod(t, nil); err != nil {
			return err
		}
		for h.a.b == nil || h.a.b == old {
			if err := t.Sleep(10 * time.Millisecond); err != nil {
				return err
			}
		}
		if err := h.a.b.WaitConnected(t); err != nil {
			return err
		}
		// The watcher looks at the bridge again within 100 ms of virtual
		// time, which moves only once every task waits.
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		if !h.a.firstTry || !h.logs.has("INFO ready", "connected=true") {
			return fmt.Errorf("not ready on the new connection; log:\n%s", h.logs.dump())
		}
		return nil
	})
}

// dump returns the records so far, one a line.
func (r *logRecorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.records, "\n")
}
