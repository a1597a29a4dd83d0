package sysinfo

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeTree creates files (path → content) under a new root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The files of testdata/pi are as a Raspberry Pi's kernel writes them.
func TestReadPiTree(t *testing.T) {
	const root = "testdata/pi"
	load, err := ReadLoad(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Load{Avg1: 0.08, Avg5: 0.12, Avg15: 0.09, Runnable: 2, Entities: 187}); load != want {
		t.Errorf("ReadLoad = %+v, want %+v", load, want)
	}
	up, err := ReadUptime(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := 86423*time.Second + 170*time.Millisecond; up != want {
		t.Errorf("ReadUptime = %v, want %v", up, want)
	}
	p, err := ReadProcess(root)
	if err != nil {
		t.Fatal(err)
	}
	want := Process{RSS: 13824 * 1024, PeakRSS: 14504 * 1024, Threads: 9, User: 7340 * time.Millisecond, System: 2910 * time.Millisecond}
	if p != want {
		t.Errorf("ReadProcess = %+v, want %+v", p, want)
	}
	z, err := FindZone(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Name != "thermal_zone0" || z.Type != "cpu-thermal" || z.String() != "thermal_zone0 (cpu-thermal)" {
		t.Errorf("FindZone = %+v (%s)", z, z)
	}
	c, err := z.Temperature()
	if err != nil {
		t.Fatal(err)
	}
	if c != 48.312 {
		t.Errorf("Temperature = %v, want 48.312", c)
	}
}

func TestZoneSelection(t *testing.T) {
	root := writeTree(t, map[string]string{
		"sys/class/thermal/thermal_zone0/type":   "acpitz\n",
		"sys/class/thermal/thermal_zone0/temp":   "27800\n",
		"sys/class/thermal/thermal_zone10/type":  "iwlwifi_1\n",
		"sys/class/thermal/thermal_zone10/temp":  "-5000\n",
		"sys/class/thermal/thermal_zone2/type":   "x86_pkg_temp\n",
		"sys/class/thermal/thermal_zone2/temp":   "51000\n",
		"sys/class/thermal/thermal_zone3/type":   "INT3400 Thermal\n",
		"sys/class/thermal/thermal_zone3/temp":   "20000\n",
		"sys/class/thermal/cooling_device0/type": "Processor\n",
		"sys/class/thermal/thermal_zoneX/type":   "not a zone\n",
	})
	zones, err := Zones(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, z := range zones {
		names = append(names, z.String())
	}
	if got, want := strings.Join(names, ", "), "thermal_zone0 (acpitz), thermal_zone2 (x86_pkg_temp), thermal_zone3 (INT3400 Thermal), thermal_zone10 (iwlwifi_1)"; got != want {
		t.Fatalf("Zones = %s, want %s", got, want)
	}
	for _, c := range []struct {
		selector, zone string
		celsius        float64
	}{
		{"", "thermal_zone2", 51}, // the CPU's, not the first
		{"acpitz", "thermal_zone0", 27.8},
		{"INT3400 Thermal", "thermal_zone3", 20},
		{"thermal_zone10", "thermal_zone10", -5},
		{"/sys/class/thermal/thermal_zone10", "thermal_zone10", -5},
		{"sys/class/thermal/thermal_zone0/temp", "thermal_zone0", 27.8},
	} {
		z, err := FindZone(root, c.selector)
		if err != nil {
			t.Errorf("FindZone(%q): %v", c.selector, err)
			continue
		}
		got, err := z.Temperature()
		if z.Name != c.zone || err != nil || got != c.celsius {
			t.Errorf("FindZone(%q) = %s reading %v, %v; want %s reading %v", c.selector, z, got, err, c.zone, c.celsius)
		}
	}
	// Without a hint of the CPU, the first zone.
	acpi := writeTree(t, map[string]string{
		"sys/class/thermal/thermal_zone1/type": "acpitz\n",
		"sys/class/thermal/thermal_zone1/temp": "30000\n",
		"sys/class/thermal/thermal_zone3/type": "pch_skylake\n",
		"sys/class/thermal/thermal_zone3/temp": "40000\n",
	})
	if z, err := FindZone(acpi, ""); err != nil || z.Name != "thermal_zone1" {
		t.Errorf("FindZone without a CPU zone = %s, %v; want thermal_zone1", z, err)
	}
}

func TestZoneNotAvailable(t *testing.T) {
	noZones := writeTree(t, map[string]string{"sys/class/thermal/cooling_device0/type": "Processor\n"})
	noClass := t.TempDir()
	pc := writeTree(t, map[string]string{
		"sys/class/thermal/thermal_zone0/type": "acpitz\n",
		"sys/class/thermal/thermal_zone0/temp": "27800\n",
	})
	for _, c := range []struct {
		root, selector, want string
	}{
		{noZones, "", "no thermal zones in"},
		{noClass, "", "no thermal zones in"},
		{noClass, "cpu-thermal", "no thermal zones in"},
		{pc, "cpu-thermal", `no thermal zone of type or name "cpu-thermal"; there are thermal_zone0 (acpitz)`},
		{pc, "/sys/class/thermal/thermal_zone7", "thermal_zone7 is not a thermal zone (no temp file)"},
	} {
		z, err := FindZone(c.root, c.selector)
		if !errors.Is(err, ErrNotAvailable) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FindZone(%q) = %s, %v; want ErrNotAvailable saying %q", c.selector, z, err, c.want)
		}
	}
	if zones, err := Zones(noClass); err != nil || len(zones) != 0 {
		t.Errorf("Zones without the class directory = %v, %v; want none and no error", zones, err)
	}
}

// A zone that exists but reads badly is an error of its own, not "not
// available": the machine has the sensor and it misbehaves.
func TestZoneReadErrors(t *testing.T) {
	root := writeTree(t, map[string]string{
		"sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
		"sys/class/thermal/thermal_zone0/temp": "-274000\n", // THERMAL_TEMP_INVALID
	})
	z, err := FindZone(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Temperature(); !strings.Contains(err.Error(), "below absolute zero") || errors.Is(err, ErrNotAvailable) {
		t.Errorf("Temperature of an invalid reading: %v", err)
	}
	if err := os.Remove(filepath.Join(z.Dir, "temp")); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Temperature(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Temperature of a vanished zone: %v, want not-exist", err)
	}
	bad := writeTree(t, map[string]string{"sys/class/thermal/thermal_zone1/type": "soc\nthermal\n"})
	if _, err := FindZone(bad, ""); err == nil || !strings.Contains(err.Error(), "thermal_zone1/type: want a name on one line") || errors.Is(err, ErrNotAvailable) {
		t.Errorf("FindZone with a bad type file: %v", err)
	}
}

func TestMissingFilesNameThePath(t *testing.T) {
	root := t.TempDir()
	_, err1 := ReadLoad(root)
	_, err2 := ReadUptime(root)
	_, err3 := ReadProcess(root)
	for _, err := range []error{err1, err2, err3} {
		var pe *fs.PathError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Path, root+"/proc/") || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want a not-exist error naming a file under %s/proc", err, root)
		}
	}
}

// Every malformed file is a *FormatError naming the file and quoting the
// offending text.
func TestFormatErrors(t *testing.T) {
	const file = "/proc/x"
	parsers := map[string]func(string) error{
		"load":   func(s string) error { _, err := parseLoad(file, []byte(s)); return err },
		"uptime": func(s string) error { _, err := parseUptime(file, []byte(s)); return err },
		"status": func(s string) error { _, err := parseStatus(file, []byte(s)); return err },
		"stat":   func(s string) error { _, _, err := parseStat(file, []byte(s)); return err },
		"temp":   func(s string) error { _, err := parseTemp(file, []byte(s)); return err },
	}
	const status = "VmHWM:\t 10 kB\nVmRSS:\t 9 kB\nThreads:\t3\n"
	const stat = "7 (a) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 100 0\n"
	for _, c := range []struct {
		parser, input, text, reason string
	}{
		{"load", "", "", "want one line"},
		{"load", "0.1 0.2 0.3 1/2 3", "0.1 0.2 0.3 1/2 3", "want one line"},
		{"load", "0.1 0.2 0.3 1/2 3\n\n", "0.1 0.2 0.3 1/2 3\n", "want one line"},
		{"load", "0.1 0.2 0.3 1/2\n", "0.1 0.2 0.3 1/2", "want 5 fields"},
		{"load", "0.1  0.2 0.3 1/2 3\n", "0.1  0.2 0.3 1/2 3", "want 5 fields"},
		{"load", "0.1 0.2 NaN 1/2 3\n", "NaN", "not a decimal"},
		{"load", "0.1 0.2 -0.3 1/2 3\n", "-0.3", "not a decimal"},
		{"load", "0.1 0.2 1e3 1/2 3\n", "1e3", "not a decimal"},
		{"load", "0.1 0.2 .3 1/2 3\n", ".3", "not a decimal"},
		{"load", "0.1 0.2 3. 1/2 3\n", "3.", "not a decimal"},
		{"load", "0.1 0.2 0.3 12 3\n", "12", "runnable/existing"},
		{"load", "0.1 0.2 0.3 x/2 3\n", "x/2", "runnable entities"},
		{"load", "0.1 0.2 0.3 1/99999999999999999999 3\n", "1/99999999999999999999", "existing entities"},
		{"load", "0.1 0.2 0.3 1/2 +3\n", "+3", "last PID"},
		{"uptime", "12.5\n", "12.5", "want 2 fields"},
		{"uptime", "12,5 3.0\n", "12,5", "uptime is not"},
		{"uptime", "12.5 idle\n", "idle", "idle time is not"},
		{"uptime", "99999999999999999999.00 1.00\n", "99999999999999999999.00", "out of range"},
		{"status", "VmRSS:\t 9 kB\nThreads:\t3\n", "VmRSS:\t 9 kB", "no VmHWM line"},
		{"status", status + "VmRSS:\t 9 kB\n", "VmRSS:\t 9 kB\n", "appears twice"},
		{"status", "VmHWM:\t 10 MB\nVmRSS:\t 9 kB\nThreads:\t3\n", "VmHWM:\t 10 MB\n", "want a size in kB"},
		{"status", "VmHWM:\t 10 kB\nVmRSS:\t 18446744073709551615 kB\nThreads:\t3\n", "VmRSS:\t 18446744073709551615 kB\n", "out of range"},
		{"status", "VmHWM:\t 10 kB\nVmRSS:\t 9 kB\nThreads:\tmany\n", "Threads:\tmany\n", "thread count"},
		{"stat", "7 (a) S 1\n", "7 (a) S 1", "too few fields"},
		{"stat", "seven (a) S" + stat[7:], "seven (a) S" + stat[7:len(stat)-1], "want \"pid (command)"},
		{"stat", "7 a) S" + stat[7:], "7 a) S" + stat[7:len(stat)-1], "want \"pid (command)"},
		{"stat", "7 (a)S" + stat[7:], "7 (a)S" + stat[7:len(stat)-1], "want \"pid (command)"},
		{"stat", strings.Replace(stat, " S ", " 5 ", 1), "5", "state is not a letter"},
		{"stat", strings.Replace(stat, " 5 6 ", " -5 6 ", 1), "-5", "CPU time is not"},
		{"stat", strings.Replace(stat, " 5 6 ", " 5 18446744073709551615 ", 1), "18446744073709551615", "out of range"},
		{"temp", "48.3\n", "48.3", "not an integer"},
		{"temp", "\n", "", "not an integer"},
		{"temp", "48312", "48312", "want one line"},
		{"temp", "-274000\n", "-274000", "below absolute zero"},
	} {
		err := parsers[c.parser](c.input)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s(%q) = %v, want a *FormatError", c.parser, c.input, err)
			continue
		}
		if fe.File != file || fe.Text != c.text || !strings.Contains(fe.Reason, c.reason) || !strings.HasPrefix(err.Error(), file+": ") {
			t.Errorf("%s(%q) = %+v, want text %q and reason %q", c.parser, c.input, *fe, c.text, c.reason)
		}
	}
	// The good ones parse, including a command name with spaces and
	// parentheses in it.
	for name, input := range map[string]string{
		"status": status,
		"stat":   strings.Replace(stat, "(a)", "(a) (b) c)", 1),
		"temp":   "0\n",
	} {
		if err := parsers[name](input); err != nil {
			t.Errorf("%s(%q): %v", name, input, err)
		}
	}
}

func TestLongTextIsCut(t *testing.T) {
	_, err := parseTemp("f", []byte(strings.Repeat("9x", 200)+"\n"))
	var fe *FormatError
	if !errors.As(err, &fe) || len(fe.Text) > maxQuoted+len("…") || !strings.HasSuffix(fe.Text, "…") {
		t.Fatalf("error %v: text not cut", err)
	}
}

// On Linux the real files parse.
func TestThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	load, err := ReadLoad("/")
	if err != nil {
		t.Fatal(err)
	}
	up, err := ReadUptime("/")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadProcess("/")
	if err != nil {
		t.Fatal(err)
	}
	if load.Entities == 0 || up <= 0 || p.RSS == 0 || p.PeakRSS < p.RSS || p.Threads == 0 {
		t.Fatalf("implausible readings: %+v, up %v, %+v", load, up, p)
	}
	z, err := FindZone("/", "")
	if errors.Is(err, ErrNotAvailable) {
		t.Logf("no thermal zone here: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := z.Temperature()
	t.Logf("%s: %v °C, %v", z, c, err)
	if err == nil && (math.IsNaN(c) || c < -273.15) {
		t.Fatalf("implausible temperature %v", c)
	}
}
