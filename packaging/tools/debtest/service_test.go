package debtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// node is the host name of the service checks' container, and so the
// agent's node id under the shipped configuration.
const node = "porch"

// shippedWatchdog is the unit's WatchdogSec=, which TestUnit holds the
// unit file to having.
const shippedWatchdog = 20 * time.Second

// TestServiceUnderSystemd installs the package the way a user does on a
// board that runs its own Mosquitto, in a container booted with systemd,
// and checks the service as systemd runs it: READY, the watchdog fed and
// then starved by a hung loop, reloads good and bad, and a stop that says
// "offline" to the broker. The root has none of the Raspberry Pi groups
// (gpio, i2c, spi): the unit must start without them. The broker is
// Debian's mosquitto package running as a service in the same container
// (image role "mosquitto"), so the shipped configuration's
// tcp://localhost:1883 reaches it unchanged and the container needs no
// network at all.
func TestServiceUnderSystemd(t *testing.T) {
	s := bootSystemd(t, bootOptions{image: env.brokerImage(t), hostname: node})
	s.waitFor(t, 30*time.Second, "systemctl is-active mosquitto", "active")
	availability := "edgeagent/" + node + "/availability"

	if !t.Run("install starts the service without the Pi groups", func(t *testing.T) {
		if s.try(t, "getent group gpio || getent group i2c || getent group spi").code == 0 {
			t.Fatal("the root has a Raspberry Pi group; this check needs a plain Debian")
		}
		s.install(t, env.debs["amd64"])
		if got := s.sh(t, "id -Gn edgeagent"); got != "edgeagent dialout" {
			t.Errorf("groups of edgeagent: %q, want \"edgeagent dialout\"", got)
		}
		// Type=notify: the unit is active only once READY=1 came.
		s.waitFor(t, 30*time.Second, "systemctl is-active edgeagent", "active")
	}) {
		return
	}

	t.Run("READY", func(t *testing.T) {
		// STATUS= follows READY=1 from a task of its own.
		s.waitFor(t, 10*time.Second, "systemctl show -P StatusText edgeagent", "connected to tcp://localhost:1883; 1 of 1 devices running")
		ready := s.monotonic(t, "ActiveEnterTimestampMonotonic") - s.monotonic(t, "ExecMainStartTimestampMonotonic")
		t.Logf("READY=1 %.1f ms after systemd started the process", ms(ready))
		env.measure("service: exec → READY=1, first start", fmt.Sprintf("%.1f ms", ms(ready)))
		log := s.journal(t, "edgeagent")
		for _, want := range []string{`msg="bridge: connected" broker=tcp://localhost:1883 client_id=`, "msg=ready node=" + node} {
			if !strings.Contains(log, want) {
				t.Errorf("the journal lacks %q:\n%s", want, log)
			}
		}
		if got := s.sh(t, "mosquitto_sub -t "+availability+" -F '%r %p' -C 1 -W 10"); got != "1 online" {
			t.Errorf("%s on the broker: %q, want retained online", availability, got)
		}
	})

	pid := s.show(t, "edgeagent", "MainPID")
	t.Run("reload applies a changed configuration", func(t *testing.T) {
		s.sh(t, `cat >> /etc/edgeagent/config.yaml <<'EOF'
  - name: disk
    type: system
    interval: 30s

debug: {allow_hang: true}
EOF`)
		s.sh(t, "systemctl reload edgeagent")
		s.waitJournal(t, 30*time.Second, "edgeagent", `msg="reloaded: device disk added"`)
		if got := s.show(t, "edgeagent", "MainPID"); got != pid {
			t.Errorf("MainPID %s after the reload, was %s: the reload restarted the process", got, pid)
		}
		// The new device answers, through the broker.
		out := s.sh(t, "edgeagent call read disk --timeout 10s")
		if !strings.Contains(out, `"device": "disk"`) || !strings.Contains(out, `"state": "running"`) {
			t.Errorf("call read disk:\n%s", out)
		}
		// Only the devices' part of the line: when a reload renews the
		// MQTT connection, the agent can leave "not connected" there after
		// it is connected again (it refreshes the line on a change of the
		// connection it watched, and the new one may connect before it
		// looks).
		s.waitFor(t, 30*time.Second, "systemctl show -P StatusText edgeagent | sed 's/.*; //'", "2 of 2 devices running")
	})

	t.Run("reload refuses a bad configuration and keeps the running one", func(t *testing.T) {
		s.sh(t, "cp /etc/edgeagent/config.yaml /root/good.yaml")
		t.Cleanup(func() { s.try(t, "cp /root/good.yaml /etc/edgeagent/config.yaml") })
		line := s.sh(t, "wc -l < /etc/edgeagent/config.yaml")
		n, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("wc -l: %q", line)
		}
		s.sh(t, "echo 'colour: red' >> /etc/edgeagent/config.yaml")
		s.sh(t, "systemctl reload edgeagent")
		s.waitJournal(t, 30*time.Second, "edgeagent", "reload refused")
		want := regexp.MustCompile(fmt.Sprintf(`reload: /etc/edgeagent/config\.yaml:%d:1: colour: unknown key`, n+1))
		if log := s.journal(t, "edgeagent"); !want.MatchString(log) {
			t.Errorf("the journal does not name the bad line (%s):\n%s", want, log)
		}
		if got := s.show(t, "edgeagent", "ActiveState") + " " + s.show(t, "edgeagent", "MainPID"); got != "active "+pid {
			t.Errorf("after the refused reload: %s, want active %s", got, pid)
		}
		// Flags for all call would take from the file, which is bad now.
		if out := s.sh(t, "edgeagent call read disk --broker tcp://localhost:1883 --node "+node+" --base edgeagent --timeout 10s"); !strings.Contains(out, `"state": "running"`) {
			t.Errorf("the running configuration was not kept: call read disk:\n%s", out)
		}
	})

	t.Run("watchdog keeps it alive", func(t *testing.T) {
		// A shorter WatchdogSec= in a drop-in, so several periods pass in
		// seconds; the agent pings at half of whatever systemd asks.
		const period = 2 * time.Second
		s.sh(t, fmt.Sprintf("mkdir -p /run/systemd/system/edgeagent.service.d && printf '[Service]\\nWatchdogSec=%ds\\n' > /run/systemd/system/edgeagent.service.d/watchdog.conf && systemctl daemon-reload && systemctl restart edgeagent", int(period.Seconds())))
		t.Cleanup(func() {
			s.try(t, "rm -r /run/systemd/system/edgeagent.service.d; systemctl daemon-reload; systemctl restart edgeagent")
		})
		if got := s.show(t, "edgeagent", "WatchdogUSec"); got != "2s" {
			t.Fatalf("WatchdogUSec %q with the drop-in", got)
		}
		pid := s.show(t, "edgeagent", "MainPID")
		restarts := s.show(t, "edgeagent", "NRestarts")
		// systemd stamps WatchdogTimestamp at each WATCHDOG=1.
		var pings []time.Duration
		deadline := time.Now().Add(5*period + period/2)
		for time.Now().Before(deadline) {
			p := s.monotonic(t, "WatchdogTimestampMonotonic")
			if len(pings) == 0 || p != pings[len(pings)-1] {
				pings = append(pings, p)
			}
			time.Sleep(100 * time.Millisecond) // sampling systemd's view, bounded by the deadline
		}
		var longest time.Duration
		for i := 1; i < len(pings); i++ {
			longest = max(longest, pings[i]-pings[i-1])
		}
		t.Logf("%d pings seen over %s (WatchdogSec=%s), the longest gap %.0f ms", len(pings), 5*period+period/2, period, ms(longest))
		env.measure("service: watchdog pings", fmt.Sprintf("%d in 11 s at WatchdogSec=2s, longest gap %.0f ms", len(pings), ms(longest)))
		if len(pings) < 5 || longest >= period {
			t.Errorf("watchdog pings %v: want at least 5, none %s apart", pings, period)
		}
		if got := s.show(t, "edgeagent", "ActiveState") + " " + s.show(t, "edgeagent", "MainPID") + " " + s.show(t, "edgeagent", "NRestarts"); got != "active "+pid+" "+restarts {
			t.Errorf("after %s: %s, want active %s %s", 5*period, got, pid, restarts)
		}
	})
	if got := s.show(t, "edgeagent", "WatchdogUSec"); got != "20s" {
		t.Fatalf("WatchdogUSec %q: the shipped unit says %s", got, shippedWatchdog)
	}

	t.Run("hung loop is restarted by the watchdog", func(t *testing.T) {
		s.waitFor(t, 30*time.Second, "systemctl is-active edgeagent", "active")
		pid := s.show(t, "edgeagent", "MainPID")
		restarts, _ := strconv.Atoi(s.show(t, "edgeagent", "NRestarts"))
		if out := s.sh(t, "edgeagent call debug.hang --timeout 10s"); !strings.Contains(out, `"hanging": true`) {
			t.Fatalf("call debug.hang:\n%s", out)
		}
		// The shipped WatchdogSec=20s, RestartSec=5s: back within half a
		// minute, given slack for a loaded machine.
		want := strconv.Itoa(restarts + 1)
		s.waitFor(t, shippedWatchdog+time.Minute, "echo $(systemctl show -P NRestarts edgeagent) $(systemctl is-active edgeagent)", want+" active")
		if got := s.show(t, "edgeagent", "MainPID"); got == pid {
			t.Errorf("MainPID is still %s", pid)
		}
		entries := s.entries(t, "edgeagent")
		hung := find(t, entries, "debug.hang: the loop is blocked on purpose")
		timeout := find(t, entries, "edgeagent.service: Watchdog timeout")
		kill := find(t, entries, "edgeagent.service: Killing process "+pid+" (edgeagent) with signal SIGABRT")
		find(t, entries, "edgeagent.service: Failed with result 'watchdog'")
		ready := s.monotonic(t, "ActiveEnterTimestampMonotonic")
		exec := s.monotonic(t, "ExecMainStartTimestampMonotonic")
		t.Logf("hang → watchdog timeout %.1f s, → SIGABRT %.1f s; SIGABRT → READY=1 of the new process %.1f s (RestartSec=5s, exec → READY=1 %.1f ms)",
			sec(timeout-hung), sec(kill-hung), sec(ready-kill), ms(ready-exec))
		env.measure("service: debug.hang → SIGABRT", fmt.Sprintf("%.1f s (WatchdogSec=20s)", sec(kill-hung)))
		env.measure("service: SIGABRT → READY=1 again", fmt.Sprintf("%.1f s (RestartSec=5s; exec → READY=1 %.1f ms)", sec(ready-kill), ms(ready-exec)))
		// systemd fires WatchdogSec after the last ping, and the last ping
		// came before the hang.
		if d := timeout - hung; d <= 0 || d > shippedWatchdog+2*time.Second {
			t.Errorf("the watchdog fired %.1f s after the hang began, want within WatchdogSec=%s", sec(d), shippedWatchdog)
		}
		s.waitFor(t, 10*time.Second, "systemctl show -P StatusText edgeagent", "connected to tcp://localhost:1883; 2 of 2 devices running")
	})

	t.Run("stop publishes offline", func(t *testing.T) {
		s.waitFor(t, 30*time.Second, "systemctl is-active edgeagent", "active")
		// A subscriber from before the stop: first the retained "online",
		// then the agent's "offline" as it goes.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sub := exec.CommandContext(ctx, "docker", "exec", s.id, "mosquitto_sub", "-t", availability, "-F", "%r %p", "-C", "2", "-W", "50")
		stdout, err := sub.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			_ = sub.Wait() // its output is read below
		}()
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || lines.Text() != "1 online" {
			t.Fatalf("the subscriber's first message: %q, want the retained online", lines.Text())
		}
		s.sh(t, "systemctl stop edgeagent")
		if !lines.Scan() || lines.Text() != "0 offline" {
			t.Fatalf("the subscriber's second message: %q, want offline", lines.Text())
		}
		stop := s.monotonic(t, "InactiveEnterTimestampMonotonic") - s.monotonic(t, "ActiveExitTimestampMonotonic")
		t.Logf("systemctl stop: %.1f ms from SIGTERM to inactive", ms(stop))
		env.measure("service: stop, SIGTERM → inactive", fmt.Sprintf("%.1f ms", ms(stop)))
		for prop, want := range map[string]string{"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} {
			if got := s.show(t, "edgeagent", prop); got != want {
				t.Errorf("%s=%s after the stop, want %s", prop, got, want)
			}
		}
		if log := s.journal(t, "edgeagent"); !strings.Contains(log, "msg=stopped") {
			t.Errorf("the journal lacks the agent's stop:\n%s", log)
		}
		// Retained for whoever looks later, and sent by the agent itself:
		// it disconnected cleanly, so the broker published no will.
		if got := s.sh(t, "mosquitto_sub -t "+availability+" -F '%r %p' -C 1 -W 10"); got != "1 offline" {
			t.Errorf("%s after the stop: %q, want retained offline", availability, got)
		}
		m := regexp.MustCompile(`msg="bridge: connected" broker=\S+ client_id=(\S+)`).FindStringSubmatch(s.journal(t, "edgeagent"))
		if m == nil {
			t.Fatal("the journal names no client id")
		}
		client := "Client " + m[1]
		if got := s.sh(t, "grep '"+client+" ' /var/log/mosquitto/mosquitto.log | tail -n 1"); !strings.HasSuffix(got, client+" disconnected.") {
			t.Errorf("the broker's last word on the agent: %q, want a clean disconnect (%s disconnected.)", got, client)
		}
	})
}

// monotonic reads a CLOCK_MONOTONIC time stamp property (µs) of the
// service, on the clock of the journal's __MONOTONIC_TIMESTAMP.
func (s *systemdContainer) monotonic(t *testing.T, property string) time.Duration {
	t.Helper()
	v := s.show(t, "edgeagent", property)
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil || us == 0 {
		t.Fatalf("%s=%q", property, v)
	}
	return time.Duration(us) * time.Microsecond
}

// waitJournal waits until the messages of a unit's current invocation
// hold want.
func (s *systemdContainer) waitJournal(t *testing.T, timeout time.Duration, unit, want string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := s.journal(t, unit)
		if strings.Contains(log, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the journal after %s:\n%s", want, timeout, log)
		}
		time.Sleep(200 * time.Millisecond) // polling the journal, with a deadline
	}
}

// entry is one journal message and when it was logged.
type entry struct {
	at  time.Duration // CLOCK_MONOTONIC
	msg string
}

// entries returns every message about a unit, its own and systemd's.
func (s *systemdContainer) entries(t *testing.T, unit string) []entry {
	t.Helper()
	out := s.sh(t, "journalctl --no-pager -o json --output-fields=MESSAGE -u "+unit)
	var es []entry
	for _, line := range strings.Split(out, "\n") {
		var raw struct {
			At  string          `json:"__MONOTONIC_TIMESTAMP"`
			Msg json.RawMessage `json:"MESSAGE"`
		}
		if json.Unmarshal([]byte(line), &raw) != nil {
			continue
		}
		us, err := strconv.ParseInt(raw.At, 10, 64)
		if err != nil {
			continue
		}
		var msg string
		if json.Unmarshal(raw.Msg, &msg) != nil {
			// journald gives a message with control characters as bytes.
			var b []byte
			var ints []int
			if json.Unmarshal(raw.Msg, &ints) == nil {
				for _, i := range ints {
					b = append(b, byte(i))
				}
			}
			msg = string(b)
		}
		es = append(es, entry{time.Duration(us) * time.Microsecond, msg})
	}
	return es
}

// find returns when the last message containing text was logged.
func find(t *testing.T, es []entry, text string) time.Duration {
	t.Helper()
	for i := len(es) - 1; i >= 0; i-- {
		if strings.Contains(es[i].msg, text) {
			return es[i].at
		}
	}
	t.Fatalf("no journal message contains %q", text)
	return 0
}

func ms(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
func sec(d time.Duration) float64 { return d.Seconds() }
