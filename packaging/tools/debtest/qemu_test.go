package debtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// emulators run the ARM packages' binaries on this machine. binfmt_misc
// is not mounted here, so qemu is called directly. armhf runs on an
// ARM1176 (Raspberry Pi Zero and 1), which executes no ARMv7 instruction.
var emulators = map[string]struct {
	qemu     string
	cpu      []string
	platform string
}{
	"arm64": {qemu: "qemu-aarch64-static", platform: "linux/arm64"},
	"armhf": {qemu: "qemu-arm-static", cpu: []string{"-cpu", "arm1176"}, platform: "linux/arm"},
}

func TestARMBinariesUnderQemu(t *testing.T) {
	for _, arch := range []string{"arm64", "armhf"} {
		t.Run(arch, func(t *testing.T) {
			e := emulators[arch]
			need(t, e.qemu, "qemu-user-static")
			root := extract(t, env.debs[arch])
			args := append(append([]string{}, e.cpu...), filepath.Join(root, "usr/bin/edgeagent"), "version")
			out := strings.TrimSpace(mustRun(t, 2*time.Minute, e.qemu, args...))
			want := "edgeagent " + env.built.Source.Version + " ("
			if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, e.platform+")") {
				t.Errorf("%s … version = %q, want %q… %s)", e.qemu, out, want, e.platform)
			}
			t.Logf("%s %s", e.qemu, out)
		})
	}

	// The ARM1176 must be strict enough to matter: the same program built
	// for ARMv7 dies of an illegal instruction on it.
	t.Run("armhf check rejects ARMv7 code", func(t *testing.T) {
		need(t, "qemu-arm-static", "qemu-user-static")
		bin := filepath.Join(t.TempDir(), "edgeagent-armv7")
		build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/edgeagent")
		build.Dir = env.root
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build GOARM=7: %v\n%s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		res, err := runCmd(ctx, "qemu-arm-static", "-cpu", "arm1176", bin, "version")
		if err != nil {
			t.Fatal(err)
		}
		if res.code == 0 {
			t.Fatalf("an ARMv7 build ran on the emulated ARM1176: the armhf check cannot tell ARMv6 from ARMv7\n%s", res.out)
		}
		t.Logf("ARMv7 build on ARM1176: exit %d (%s)", res.code, firstLine(res.out))
	})
}
