package debtest

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/packaging/tools/build"
)

// installedModes are owner, group and mode of what an install leaves.
var installedModes = map[string]string{
	"/usr/bin/edgeagent":                     "root:root 755",
	"/etc/edgeagent":                         "root:root 755",
	"/etc/edgeagent/config.yaml":             "root:root 644",
	"/lib/systemd/system/edgeagent.service":  "root:root 644",
	"/usr/share/doc/edgeagent/examples":      "root:root 755",
	"/usr/share/man/man1/edgeagent.1.gz":     "root:root 644",
	"/var/lib/edgeagent":                     "edgeagent:edgeagent 750",
	"/usr/share/doc/edgeagent/README.Debian": "root:root 644",
}

// TestInstallUpgradeRemovePurge takes the amd64 package through its life
// in a clean Debian root without systemd running, as in a container or a
// chroot: install, upgrade to a newer build, remove, purge. The root has
// none of the Raspberry Pi groups (gpio, i2c, spi), only Debian's dialout.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	c := startContainer(t, "install", "--network", "none", env.baseImage(t), "sleep", "infinity")
	v1 := env.built.Source.Version
	// A newer build of the same tree: the version is all that differs.
	v2 := v1 + "+1"
	newer, err := build.Build(context.Background(), build.Options{Root: env.root, Out: filepath.Join(t.TempDir(), "newer"), Arches: []string{"amd64"}, Version: v2})
	if err != nil {
		t.Fatal(err)
	}
	c.copyIn(t, env.debs["amd64"], "/tmp/v1.deb")
	c.copyIn(t, newer.Packages[0].Path, "/tmp/v2.deb")
	c.sh(t, "dpkg --compare-versions '"+v2+"' gt '"+v1+"'")

	if !t.Run("install", func(t *testing.T) {
		if c.try(t, "getent group gpio || getent group i2c || getent group spi").code == 0 {
			t.Fatal("the clean root has a Raspberry Pi group; the check needs a plain Debian")
		}
		c.sh(t, "dpkg -i /tmp/v1.deb")
		if got := c.sh(t, "dpkg-query -W -f '${Status} ${Version}' edgeagent"); got != "install ok installed "+v1 {
			t.Errorf("dpkg-query: %q", got)
		}
	}) {
		return
	}

	t.Run("user", func(t *testing.T) {
		// name:password:uid:gid:gecos:home:shell
		f := strings.Split(c.sh(t, "getent passwd edgeagent"), ":")
		if len(f) != 7 {
			t.Fatalf("getent passwd edgeagent: %q", f)
		}
		if uid, _ := strconv.Atoi(f[2]); uid <= 0 || uid >= 1000 {
			t.Errorf("uid %s is not a system uid", f[2])
		}
		if f[5] != "/var/lib/edgeagent" || f[6] != "/usr/sbin/nologin" {
			t.Errorf("home %q shell %q, want /var/lib/edgeagent and /usr/sbin/nologin", f[5], f[6])
		}
		if got := c.sh(t, "id -Gn edgeagent"); got != "edgeagent dialout" {
			t.Errorf("groups %q, want \"edgeagent dialout\" (no Pi groups exist here)", got)
		}
	})

	t.Run("files", func(t *testing.T) {
		checkModes(t, c)
		if got := c.sh(t, "dpkg-query -W -f '${Conffiles}' edgeagent | awk 'NF {print $1}'"); got != "/etc/edgeagent/config.yaml" {
			t.Errorf("conffiles %q", got)
		}
		out := c.sh(t, "edgeagent version")
		if !strings.HasPrefix(out, "edgeagent "+v1+" (") {
			t.Errorf("edgeagent version = %q", out)
		}
	})

	t.Run("enabled", func(t *testing.T) {
		// deb-systemd-helper enables the unit even where systemd is not
		// running, so it starts at the next boot.
		if got := c.sh(t, "readlink /etc/systemd/system/multi-user.target.wants/edgeagent.service"); got != "/lib/systemd/system/edgeagent.service" {
			t.Errorf("multi-user.target.wants/edgeagent.service -> %q", got)
		}
	})

	if !t.Run("upgrade keeps an edited conffile and the state, joins new groups", func(t *testing.T) {
		c.sh(t, "echo '# edited on this machine' >> /etc/edgeagent/config.yaml")
		c.sh(t, "echo queued > /var/lib/edgeagent/probe && chown edgeagent: /var/lib/edgeagent/probe")
		uid := c.sh(t, "id -u edgeagent")
		// A hardware group that appeared since the install (I2C enabled,
		// say) is joined at the upgrade, as README.Debian says.
		c.sh(t, "groupadd --system i2c")
		c.sh(t, "dpkg -i /tmp/v2.deb")
		if got := c.sh(t, "id -Gn edgeagent"); got != "edgeagent dialout i2c" {
			t.Errorf("groups after upgrade %q, want edgeagent dialout i2c", got)
		}
		if got := c.sh(t, "dpkg-query -W -f '${Version}' edgeagent"); got != v2 {
			t.Errorf("version after upgrade %q, want %q", got, v2)
		}
		if got := c.sh(t, "tail -n 1 /etc/edgeagent/config.yaml"); got != "# edited on this machine" {
			t.Errorf("the edited conffile was replaced: last line %q", got)
		}
		if got := c.sh(t, "ls /etc/edgeagent"); got != "config.yaml" {
			t.Errorf("/etc/edgeagent holds %q, want only config.yaml", got)
		}
		if got := c.sh(t, "cat /var/lib/edgeagent/probe"); got != "queued" {
			t.Errorf("state after upgrade: %q", got)
		}
		if got := c.sh(t, "id -u edgeagent"); got != uid {
			t.Errorf("uid changed from %s to %s", uid, got)
		}
		checkModes(t, c)
	}) {
		return
	}

	if !t.Run("remove keeps the state", func(t *testing.T) {
		c.sh(t, "dpkg -r edgeagent")
		if got := c.sh(t, "dpkg-query -W -f '${Status}' edgeagent"); got != "deinstall ok config-files" {
			t.Errorf("status after remove %q", got)
		}
		c.sh(t, "! test -e /usr/bin/edgeagent")
		if got := c.sh(t, "cat /var/lib/edgeagent/probe"); got != "queued" {
			t.Errorf("state after remove: %q", got)
		}
		c.sh(t, "getent passwd edgeagent")
		c.sh(t, "grep -q '# edited on this machine' /etc/edgeagent/config.yaml")
	}) {
		return
	}

	t.Run("purge deletes state and user", func(t *testing.T) {
		c.sh(t, "dpkg -P edgeagent")
		if res := c.try(t, "dpkg-query -W -f '${Status}' edgeagent"); res.code == 0 && strings.Contains(res.out, "installed") {
			t.Errorf("status after purge %q", res.out)
		}
		for _, gone := range []string{"/var/lib/edgeagent", "/etc/edgeagent"} {
			if c.try(t, "test -e "+gone).code == 0 {
				t.Errorf("%s survived the purge", gone)
			}
		}
		if c.try(t, "getent passwd edgeagent").code == 0 || c.try(t, "getent group edgeagent").code == 0 {
			t.Error("the edgeagent user or group survived the purge")
		}
		if left := c.sh(t, "find /etc/systemd /var/lib/systemd -name '*edgeagent*'"); left != "" {
			t.Errorf("systemd state left after purge:\n%s", left)
		}
	})
}

func checkModes(t *testing.T, c *container) {
	t.Helper()
	for path, want := range installedModes {
		if got := c.sh(t, "stat -c '%U:%G %a' "+path); got != want {
			t.Errorf("%s is %q, want %q", path, got, want)
		}
	}
}
