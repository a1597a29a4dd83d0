package sysinfo

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// checkErr fails unless err is nil or a *FormatError naming file.
func checkErr(t *testing.T, file string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != file || !strings.HasPrefix(err.Error(), file+": ") {
		t.Fatalf("error %v is not a *FormatError naming %s", err, file)
	}
}

// seed adds the file from testdata/pi and every input of the format error
// table's kind.
func seed(f *testing.F, path string, more ...string) {
	if data, err := os.ReadFile("testdata/pi/" + path); err == nil {
		f.Add(string(data))
	}
	for _, s := range more {
		f.Add(s)
	}
}

func FuzzParseLoad(f *testing.F) {
	seed(f, "proc/loadavg", "0.1 0.2 NaN 1/2 3\n", "0.1 0.2 0.3 1/99999999999999999999 3\n", "1.0 2.0 3.0 4/5 6\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseLoad("loadavg", []byte(s))
		checkErr(t, "loadavg", err)
		if err == nil {
			for _, v := range []float64{l.Avg1, l.Avg5, l.Avg15} {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%q parsed to %+v", s, l)
				}
			}
		}
	})
}

func FuzzParseUptime(f *testing.F) {
	seed(f, "proc/uptime", "99999999999999999999.00 1.00\n", "12,5 3.0\n", "0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseUptime("uptime", []byte(s))
		checkErr(t, "uptime", err)
		if err == nil && d < 0 {
			t.Fatalf("%q parsed to %v", s, d)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	seed(f, "proc/self/status", "VmHWM:\t 10 kB\nVmRSS:\t 9 kB\nThreads:\t3\n", "VmRSS:\t 18446744073709551615 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := parseStatus("status", []byte(s))
		checkErr(t, "status", err)
	})
}

func FuzzParseStat(f *testing.F) {
	seed(f, "proc/self/stat", "7 (a) (b) c) S 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 100 0\n", "7 () S\n", "1 (\n")
	f.Fuzz(func(t *testing.T, s string) {
		user, system, err := parseStat("stat", []byte(s))
		checkErr(t, "stat", err)
		if err == nil && (user < 0 || system < 0) {
			t.Fatalf("%q parsed to %v, %v", s, user, system)
		}
	})
}

func FuzzParseTemp(f *testing.F) {
	seed(f, "sys/class/thermal/thermal_zone0/temp", "-274000\n", "-\n", "9223372036854775808\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseTemp("temp", []byte(s))
		checkErr(t, "temp", err)
		if err == nil && (c < -273.15 || math.IsNaN(c)) {
			t.Fatalf("%q parsed to %v", s, c)
		}
	})
}
