package debtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the most `systemd-analyze security` may rate the unit,
// in its tenths (--threshold counts in tenths): 2.0.
const maxExposure = 20

// unitSettings are the [Service] lines the service's behaviour rests on.
var unitSettings = []string{
	"Type=notify",
	"NotifyAccess=main",
	"ExecStart=/usr/bin/edgeagent run --config /etc/edgeagent/config.yaml",
	"ExecReload=/bin/kill -HUP $MAINPID",
	"Restart=on-failure",
	"StateDirectory=edgeagent",
	"User=edgeagent",
	"CapabilityBoundingSet=",
	"NoNewPrivileges=yes",
	"ProtectSystem=strict",
	"DevicePolicy=closed",
	"DeviceAllow=char-gpiochip rw",
	"DeviceAllow=char-i2c rw",
	"DeviceAllow=char-spi rw",
	"DeviceAllow=char-ttyS rw",
	"DeviceAllow=char-ttyAMA rw",
	"DeviceAllow=char-ttyUSB rw",
	"DeviceAllow=char-ttyACM rw",
	"SystemCallFilter=@system-service",
}

var exposureRE = regexp.MustCompile(`Overall exposure level for edgeagent\.service: ([0-9]+)\.([0-9])`)

// TestUnit installs the package into a Debian root with systemd (not
// booted: systemd-analyze works offline) and has systemd judge the unit
// where it is installed, next to the binary and /bin/kill it names.
func TestUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join(env.root, "packaging", "edgeagent.service"))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(unit), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range unitSettings {
		if !lines[want] {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?m)^WatchdogSec=([0-9]+)s$`).FindStringSubmatch(string(unit)); m == nil || m[1] == "0" {
		t.Error("the unit sets no WatchdogSec=")
	}
	// Device access comes from the user's groups: a private user namespace
	// would map them away, and naming groups would stop the unit starting
	// where they do not exist.
	for _, banned := range []string{"PrivateUsers=yes", "PrivateUsers=true", "SupplementaryGroups=", "DynamicUser=yes"} {
		if strings.Contains(string(unit), banned) {
			t.Errorf("the unit sets %s", banned)
		}
	}

	c := startContainer(t, "unit", "--network", "none", env.systemdImage(t), "sleep", "infinity")
	c.copyIn(t, env.debs["amd64"], "/tmp/edgeagent.deb")
	c.sh(t, "dpkg -i /tmp/edgeagent.deb")

	t.Run("verify", func(t *testing.T) {
		// --man=no: the root has no man-db; the page the unit names is
		// checked below instead.
		out := c.sh(t, "systemd-analyze verify --man=no /lib/systemd/system/edgeagent.service 2>&1")
		if out != "" {
			t.Errorf("systemd-analyze verify reports:\n%s", out)
		}
		c.sh(t, "test -f /usr/share/man/man1/edgeagent.1.gz && test -f /usr/share/doc/edgeagent/README.Debian")
	})

	t.Run("exposure", func(t *testing.T) {
		res := c.try(t, fmt.Sprintf("systemd-analyze security --offline=true --threshold=%d /lib/systemd/system/edgeagent.service", maxExposure))
		t.Logf("systemd-analyze security --offline=true (exit %d):\n%s", res.code, relaxations(res.out))
		m := exposureRE.FindStringSubmatch(res.out)
		if m == nil {
			t.Fatalf("no exposure level in:\n%s", res.out)
		}
		whole, _ := strconv.Atoi(m[1])
		tenth, _ := strconv.Atoi(m[2])
		tenths := whole*10 + tenth
		env.measure("exposure (systemd-analyze security)", fmt.Sprintf("%d.%d (limit %d.%d)", whole, tenth, maxExposure/10, maxExposure%10))
		if tenths > maxExposure || res.code != 0 {
			t.Errorf("exposure %d.%d (exit %d), want at most %d.%d", whole, tenth, res.code, maxExposure/10, maxExposure%10)
		}
		// The threshold is what CI holds the unit to: one tenth below the
		// figure it must fail, or the check proves nothing.
		if tenths > 0 {
			below := c.try(t, fmt.Sprintf("systemd-analyze security --offline=true --threshold=%d /lib/systemd/system/edgeagent.service", tenths-1))
			if below.code == 0 {
				t.Errorf("--threshold=%d passed an exposure of %d.%d", tenths-1, whole, tenth)
			}
		}
		// README.Debian quotes the figure and says what each relaxation
		// buys: the figure must be the measured one, and every setting
		// that costs exposure must be named there.
		raw, err := os.ReadFile(filepath.Join(env.root, "packaging", "README.Debian"))
		if err != nil {
			t.Fatal(err)
		}
		readme := strings.Join(strings.Fields(string(raw)), " ")
		quoted := fmt.Sprintf("rates it %d.%d", whole, tenth)
		if !strings.Contains(readme, quoted) {
			t.Errorf("README.Debian does not say %q", quoted)
		}
		relaxed := relaxedSettings(res.out)
		if len(relaxed) == 0 && tenths > 0 {
			t.Errorf("no setting found behind an exposure of %d.%d in:\n%s", whole, tenth, res.out)
		}
		for _, setting := range relaxed {
			if !strings.Contains(readme, setting) {
				t.Errorf("README.Debian does not explain the relaxation %s", setting)
			}
		}
	})
}

// relaxedSettings names what each costing line of the security report is
// about: the setting ("PrivateNetwork"), or for address families the
// family ("AF_UNIX" from "RestrictAddressFamilies=~AF_UNIX").
func relaxedSettings(report string) []string {
	var out []string
	for _, l := range strings.Split(report, "\n") {
		rest, ok := strings.CutPrefix(l, "✗ ")
		if !ok {
			continue
		}
		field := strings.Fields(rest)[0]
		name, value, _ := strings.Cut(field, "=")
		if fam, ok := strings.CutPrefix(value, "~AF_"); ok {
			name = "AF_" + strings.SplitN(strings.Trim(fam, "()"), "|", 2)[0]
		}
		out = append(out, name)
	}
	return out
}

// relaxations keeps the lines of the security report that cost exposure,
// and the verdict.
func relaxations(report string) string {
	var keep []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "✗") || strings.Contains(l, "Overall exposure") {
			keep = append(keep, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(keep, "\n")
}
