package agent

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/loop"
)

// note is one notification and when it arrived.
type note struct {
	text string
	at   time.Time
}

// The agent speaks systemd's notify protocol: READY=1 once the first
// connection attempt is over, STATUS= lines, and WATCHDOG=1 from a task on
// its loop — so none while the loop is hung, and again once it runs.
func TestNotifyProtocol(t *testing.T) {
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
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
