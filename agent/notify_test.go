package agent

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/loop"
)

// note is one notification and when it arrived.
type note struct {
	text string
	at   time.Time
}

// listenNotify is systemd's side of the notify protocol for a test: it
// points NOTIFY_SOCKET at a socket of its own and hands over every
// notification as it arrives. The socket closes after the agent's shutdown
// when called before start (cleanups run last registered first).
func listenNotify(t *testing.T) <-chan note {
	t.Helper()
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	notes := make(chan note, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return
			}
			notes <- note{string(buf[:n]), time.Now()}
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sockPath)
	return notes
}

// The agent speaks systemd's notify protocol: READY=1 once the first
// connection attempt is over, STATUS= lines, and WATCHDOG=1 from a task on
// its loop — so none while the loop is hung, and again once it runs.
func TestNotifyProtocol(t *testing.T) {
	notes := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "100000") // a ping every 50 ms
	h := start(t, baseConfig, WithClock(loop.RealClock()), WithNotifier(sdnotify.New()))

	next := func(what string, match func(string) bool) note {
		t.Helper()
		deadline := time.After(waitLimit)
		for {
			select {
			case n := <-notes:
				if match(n.text) {
					return n
				}
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		}
	}
	next("READY=1", func(s string) bool { return s == "READY=1" })
	next("STATUS=", func(s string) bool { return strings.HasPrefix(s, "STATUS=") && strings.Contains(s, "devices running") })
	next("WATCHDOG=1", func(s string) bool { return s == "WATCHDOG=1" })
	next("WATCHDOG=1", func(s string) bool { return s == "WATCHDOG=1" })

	// Hang the loop for 400 ms (eight ping periods).
	hung := make(chan [2]time.Time, 1)
	if err := h.a.l.Post(func() {
		from := time.Now()
		time.Sleep(400 * time.Millisecond) //loopvet:ok the test hangs the loop on purpose
		hung <- [2]time.Time{from, time.Now()}
	}); err != nil {
		t.Fatal(err)
	}
	window := <-hung
	// Every ping up to the first after the hang: none inside it (a ping
	// already handed to the socket as the hang began may land just after
	// its start).
	for {
		n := next("WATCHDOG=1 after the hang", func(s string) bool { return s == "WATCHDOG=1" })
		if n.at.After(window[0].Add(20*time.Millisecond)) && n.at.Before(window[1]) {
			t.Fatalf("a watchdog ping at %v, while the loop hung from %v to %v", n.at, window[0], window[1])
		}
		if n.at.After(window[1]) {
			break
		}
	}
	if err := h.shutdown(); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1", func(s string) bool { return s == "STOPPING=1" })
}

// relayConfig is one simulated relay: nothing publishes on its own, so a
// bridge that has connected goes quiet.
const relayConfig = `
mqtt:
  brokers: [BROKER]
  node_id: test
  keepalive: 5s
  backoff: {min: 100ms, max: 1s}
  status_interval: 0s
homeassistant: {device_name: Test}
state_dir: STATE_DIR
devices:
  - name: relay
    type: relay
    pin: GPIO23
    simulate: true
`

// settled reports whether a bridge is connected and has nothing more on
// its way: the echo back, every subscription granted, nothing unacknowledged.
func settled(s bridge.Stats) bool {
	if !s.Connected || s.Echo != "ok" || s.Outbox.Pending != 0 || s.Inflow.QoS0Queued != 0 || s.Inflow.QoS1Queued != 0 {
		return false
	}
	for _, b := range s.Bindings {
		if b.State != "subscribed" {
			return false
		}
	}
	return true
}

// After a reload that renews the MQTT connection, the status line follows
// the new bridge: it says connected once that bridge is, even when the
// bridge connected (and went quiet) before the status watcher looked at it.
func TestStatusFollowsRenewedConnection(t *testing.T) {
	notes := listenNotify(t)
	n := sdnotify.New()
	h := start(t, relayConfig, WithNotifier(n))
	h.on(func(t *loop.Task) error {
		// Ready, and then connected: the status watcher, past its first
		// phase, now waits for the first bridge to change.
		read := uint64(0) // notifications taken from notes
		var last string   // the newest STATUS= line since READY=1
		var all []string
		ready := false
		take := func(until func() bool) error {
			return realWait(t, func(ctx context.Context) error {
				for !until() {
					select {
					case nt := <-notes:
						s := nt.text
						read++
						all = append(all, s)
						if s == "READY=1" {
							ready, last = true, ""
						}
						if strings.HasPrefix(s, "STATUS=") {
							last = s
						}
					case <-ctx.Done():
						return fmt.Errorf("%w; notifications: %q", ctx.Err(), all)
					}
				}
				return nil
			})
		}
		if err := take(func() bool { return ready && strings.HasPrefix(last, "STATUS=connected to ") }); err != nil {
			return err
		}
		old := h.a.b
		// The clock stands still until the new bridge has settled, so the
		// status watcher, sleeping while the bridge is replaced, wakes only
		// after the new bridge's last change.
		hold := make(chan struct{})
		release := sync.OnceFunc(func() { close(hold) })
		defer release()
		goHold(h.a.l, "test-hold-clock", hold)
		h.writeConfig(strings.Replace(relayConfig, "keepalive: 5s", "keepalive: 6s", 1))
		if _, err := h.a.reloadMethod(t, nil); err != nil {
			return err
		}
		for {
			b := h.a.b
			if b != nil && b != old && settled(b.Stats()) {
				break
			}
			var err error
			if b == nil {
				err = h.a.statusWQ.Wait(t) // woken at the reload's end
			} else {
				err = b.WaitChange(t)
			}
			if err != nil {
				return err
			}
		}
		release()
		// The clock moves on only once every task waits and every
		// notification sent: the status line is final.
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		sent := n.Stats().Sent
		if err := take(func() bool { return read == sent }); err != nil {
			return err
		}
		if !strings.HasPrefix(last, "STATUS=connected to ") {
			return fmt.Errorf("the last status line after the reload is %q, want connected; all: %q", last, all)
		}
		return nil
	})
}
