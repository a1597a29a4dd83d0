package debtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// systemdContainer is a Debian root booted with systemd as PID 1, the
// way a Raspberry Pi boots: the harness for checks of the running service.
// --privileged does not work on this machine; systemd runs with the
// host's cgroup tree mounted read-only and tmpfs on /run and /run/lock.
//
// TestServiceUnderSystemd is the check of the running service; it boots
// the image with Debian's Mosquitto beside systemd (brokerImage), so the
// shipped configuration's localhost broker is there without a network:
//
//	s := bootSystemd(t, bootOptions{image: env.brokerImage(t), hostname: node})
//	s.install(t, env.debs["amd64"])  // postinst enables and starts it
//	s.waitFor(t, time.Minute, "systemctl is-active edgeagent", "active") // Type=notify: READY=1 came
//	s.sh(t, "systemctl reload edgeagent")
//	s.journal(t, "edgeagent")          // what this invocation logged
//	s.show(t, "edgeagent", "NRestarts") // restarts, by the watchdog among others
type systemdContainer struct {
	*container
}

// bootOptions adjust a boot.
type bootOptions struct {
	// network is docker's --network: "none" by default (loopback only).
	network string
	// image is the image to boot; the systemd image by default.
	image string
	// hostname is the container's host name, and so the agent's default
	// node id; docker's (the container id) by default.
	hostname string
}

// bootSystemd starts a systemd container and waits until systemd reports
// the system running (or degraded, listing the failed units).
func bootSystemd(t *testing.T, opts bootOptions) *systemdContainer {
	t.Helper()
	if opts.network == "" {
		opts.network = "none"
	}
	image := opts.image
	if image == "" {
		image = env.systemdImage(t)
	}
	var extra []string
	if opts.hostname != "" {
		extra = append(extra, "--hostname", opts.hostname)
	}
	start := time.Now()
	c := startContainer(t, "systemd", append(extra,
		"--network", opts.network,
		"--tmpfs", "/run", "--tmpfs", "/run/lock",
		"--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
		"--env", "container=docker",
		"--stop-signal", "SIGRTMIN+3",
		image, "/sbin/init")...)
	s := &systemdContainer{c}
	state := s.waitFor(t, time.Minute, "systemctl is-system-running", "running", "degraded")
	if state == "degraded" {
		t.Logf("systemd is degraded; failed units:\n%s", s.sh(t, "systemctl --failed --no-legend"))
	}
	t.Logf("systemd booted in %.1fs (%s)", time.Since(start).Seconds(), state)
	return s
}

// waitFor runs script until its output is one of want, polling until the
// deadline; it returns the output it accepted.
func (s *systemdContainer) waitFor(t *testing.T, timeout time.Duration, script string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		last = strings.TrimSpace(s.try(t, script).out)
		for _, w := range want {
			if last == w {
				return last
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q after %s, want one of %q", script, last, timeout, want)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, with a deadline
	}
}

// install installs a package the way the install guide does, with apt
// (its dependencies are already in the image: nothing is downloaded).
func (s *systemdContainer) install(t *testing.T, deb string) {
	t.Helper()
	s.copyIn(t, deb, "/tmp/edgeagent.deb")
	s.sh(t, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/edgeagent.deb")
}

// show returns one property of a unit, as systemctl show prints it.
func (s *systemdContainer) show(t *testing.T, unit, property string) string {
	t.Helper()
	return s.sh(t, fmt.Sprintf("systemctl show -P %s %s", property, unit))
}

// journal returns a unit's messages of its current invocation.
func (s *systemdContainer) journal(t *testing.T, unit string) string {
	t.Helper()
	id := s.show(t, unit, "InvocationID")
	return s.sh(t, fmt.Sprintf("journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=%s", id))
}

// sandboxProbe replaces the service's process, and only that, with
// commands that report what they may do: everything else of the shipped
// unit (user, groups, state directory, hardening) applies as shipped.
const sandboxProbe = `[Service]
Type=oneshot
ExecStart=
ExecStart=/usr/bin/edgeagent version
ExecStart=/bin/sh -c 'echo "groups: $(id -Gn)"'
ExecStart=/bin/sh -c 'touch /etc/edgeagent/probe 2>/dev/null && echo "etc: writable" || echo "etc: read-only"'
ExecStart=/bin/sh -c 'touch /var/lib/edgeagent/probe && echo "state: writable"'
ExecReload=
WatchdogSec=0
Restart=no
`

// TestSystemdHarness proves the harness the service checks build on: a
// container boots systemd, a notify unit starts and stops in it, the
// package installs there the way a user installs it, and the unit's
// sandbox is set up as shipped.
func TestSystemdHarness(t *testing.T) {
	s := bootSystemd(t, bootOptions{})

	t.Run("notify unit starts and stops", func(t *testing.T) {
		s.sh(t, `cat > /etc/systemd/system/harness-notify.service <<'EOF'
[Service]
Type=notify
NotifyAccess=all
TimeoutStartSec=20s
ExecStart=/bin/sh -c 'systemd-notify --ready --status="harness up"; exec sleep infinity'
EOF
systemctl daemon-reload`)
		// systemctl start returns once READY=1 arrived (or fails).
		s.sh(t, "systemctl start harness-notify")
		if got := s.show(t, "harness-notify", "ActiveState"); got != "active" {
			t.Errorf("ActiveState %q after start", got)
		}
		if got := s.show(t, "harness-notify", "StatusText"); got != "harness up" {
			t.Errorf("StatusText %q: the notify socket did not carry STATUS=", got)
		}
		s.sh(t, "systemctl stop harness-notify")
		if got := s.show(t, "harness-notify", "ActiveState"); got != "inactive" {
			t.Errorf("ActiveState %q after stop", got)
		}
	})

	if !t.Run("install enables and starts the service", func(t *testing.T) {
		// As on Raspberry Pi OS: the hardware groups exist before install.
		s.sh(t, "groupadd --system gpio && groupadd --system i2c && groupadd --system spi")
		s.install(t, env.debs["amd64"])
		if got := s.sh(t, "systemctl is-enabled edgeagent"); got != "enabled" {
			t.Errorf("is-enabled %q", got)
		}
		// postinst asked systemd to start it: the unit has been invoked.
		if s.show(t, "edgeagent", "InvocationID") == "" {
			t.Error("postinst did not start the service")
		}
		if got := strings.Fields(s.sh(t, "id -Gn edgeagent")); len(got) != 5 {
			t.Errorf("groups of edgeagent: %q, want edgeagent gpio i2c spi dialout", got)
		}
		s.sh(t, "systemctl stop edgeagent")
	}) {
		return
	}

	t.Run("sandbox as shipped", func(t *testing.T) {
		s.sh(t, "mkdir -p /run/systemd/system/edgeagent.service.d && cat > /run/systemd/system/edgeagent.service.d/probe.conf <<'EOF'\n"+sandboxProbe+"EOF\nsystemctl daemon-reload")
		t.Cleanup(func() { s.try(t, "rm -r /run/systemd/system/edgeagent.service.d && systemctl daemon-reload") })
		s.sh(t, "systemctl start edgeagent")
		if got := s.show(t, "edgeagent", "Result"); got != "success" {
			t.Errorf("Result %q", got)
		}
		log := s.journal(t, "edgeagent")
		for _, want := range []string{
			"edgeagent " + env.built.Source.Version + " (",
			"etc: read-only",
			"state: writable",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("the journal lacks %q:\n%s", want, log)
			}
		}
		groups := map[string]bool{}
		for _, line := range strings.Split(log, "\n") {
			if rest, ok := strings.CutPrefix(line, "groups: "); ok {
				for _, g := range strings.Fields(rest) {
					groups[g] = true
				}
			}
		}
		for _, g := range []string{"edgeagent", "gpio", "i2c", "spi", "dialout"} {
			if !groups[g] {
				t.Errorf("the service runs without group %s (journal:\n%s)", g, log)
			}
		}
		if got := s.sh(t, "stat -c '%U:%G %a' /var/lib/edgeagent"); got != "edgeagent:edgeagent 750" {
			t.Errorf("state directory %q", got)
		}
	})

	t.Run("remove masks and purge forgets the service", func(t *testing.T) {
		s.sh(t, "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q edgeagent")
		if got := s.show(t, "edgeagent", "ActiveState"); got != "inactive" && got != "failed" {
			t.Errorf("ActiveState %q after remove", got)
		}
		// Masked until purge, as dh_installsystemd leaves a removed unit.
		if got := strings.TrimSpace(s.try(t, "systemctl is-enabled edgeagent").out); got != "masked" {
			t.Errorf("is-enabled after remove: %q, want masked", got)
		}
		s.sh(t, "test -d /var/lib/edgeagent")
		s.sh(t, "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q edgeagent")
		if got := strings.TrimSpace(s.try(t, "systemctl is-enabled edgeagent 2>&1").out); got == "masked" || got == "enabled" {
			t.Errorf("is-enabled after purge: %q", got)
		}
		if s.try(t, "test -e /var/lib/edgeagent").code == 0 {
			t.Error("/var/lib/edgeagent survived the purge")
		}
		if s.try(t, "getent passwd edgeagent").code == 0 {
			t.Error("the edgeagent user survived the purge")
		}
	})
}
