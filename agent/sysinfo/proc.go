package sysinfo

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Load is the content of /proc/loadavg.
type Load struct {
	Avg1, Avg5, Avg15 float64 // run-queue length averaged over 1, 5 and 15 minutes
	Runnable          uint64  // scheduling entities runnable now
	Entities          uint64  // scheduling entities (processes and threads) that exist
}

// ReadLoad reads the load averages from root/proc/loadavg.
func ReadLoad(root string) (Load, error) {
	file := filepath.Join(root, "proc/loadavg")
	data, err := os.ReadFile(file)
	if err != nil {
		return Load{}, err
	}
	return parseLoad(file, data)
}

// parseLoad parses "0.52 0.58 0.59 1/389 12345\n": three averages, runnable
// and existing scheduling entities, and the last PID handed out.
func parseLoad(file string, data []byte) (Load, error) {
	line, ok := singleLine(data)
	if !ok {
		return Load{}, formatError(file, line, "want one line ending in a newline")
	}
	f := strings.Split(line, " ")
	if len(f) != 5 {
		return Load{}, formatError(file, line, "want 5 fields separated by single spaces")
	}
	var l Load
	for i, dst := range []*float64{&l.Avg1, &l.Avg5, &l.Avg15} {
		v, ok := parseDecimal(f[i])
		if !ok {
			return Load{}, formatError(file, f[i], "load average is not a decimal number")
		}
		*dst = v
	}
	run, all, ok := strings.Cut(f[3], "/")
	if !ok {
		return Load{}, formatError(file, f[3], "want runnable/existing entities")
	}
	if l.Runnable, ok = parseUint(run); !ok {
		return Load{}, formatError(file, f[3], "runnable entities is not a count")
	}
	if l.Entities, ok = parseUint(all); !ok {
		return Load{}, formatError(file, f[3], "existing entities is not a count")
	}
	if _, ok := parseUint(f[4]); !ok {
		return Load{}, formatError(file, f[4], "last PID is not a number")
	}
	return l, nil
}

// ReadUptime reads how long the system has been up from root/proc/uptime.
func ReadUptime(root string) (time.Duration, error) {
	file := filepath.Join(root, "proc/uptime")
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return parseUptime(file, data)
}

// parseUptime parses "1115.60 758.08\n": seconds since boot, and the idle
// seconds summed over all CPUs.
func parseUptime(file string, data []byte) (time.Duration, error) {
	line, ok := singleLine(data)
	if !ok {
		return 0, formatError(file, line, "want one line ending in a newline")
	}
	f := strings.Split(line, " ")
	if len(f) != 2 {
		return 0, formatError(file, line, "want 2 fields separated by a single space")
	}
	up, ok := parseDecimal(f[0])
	if !ok {
		return 0, formatError(file, f[0], "uptime is not a decimal number of seconds")
	}
	if _, ok := parseDecimal(f[1]); !ok {
		return 0, formatError(file, f[1], "idle time is not a decimal number of seconds")
	}
	d, ok := seconds(up)
	if !ok {
		return 0, formatError(file, f[0], "uptime is out of range")
	}
	return d, nil
}

// Process is what the kernel accounts to the reading process.
type Process struct {
	RSS     uint64        // resident memory now, in bytes (VmRSS)
	PeakRSS uint64        // the highest RSS so far, in bytes (VmHWM)
	Threads uint64        // OS threads
	User    time.Duration // CPU time spent in user mode
	System  time.Duration // CPU time spent in the kernel on its behalf
}

// ReadProcess reads the calling process's memory and CPU time from
// root/proc/self/status and root/proc/self/stat.
func ReadProcess(root string) (Process, error) {
	statusFile := filepath.Join(root, "proc/self/status")
	status, err := os.ReadFile(statusFile)
	if err != nil {
		return Process{}, err
	}
	p, err := parseStatus(statusFile, status)
	if err != nil {
		return Process{}, err
	}
	statFile := filepath.Join(root, "proc/self/stat")
	stat, err := os.ReadFile(statFile)
	if err != nil {
		return Process{}, err
	}
	p.User, p.System, err = parseStat(statFile, stat)
	return p, err
}

// parseStatus takes VmRSS, VmHWM and Threads from /proc/<pid>/status, whose
// lines are "Key:<tabs or spaces>value". Each must appear exactly once; the
// other lines are left alone.
func parseStatus(file string, data []byte) (Process, error) {
	var p Process
	want := map[string]*uint64{"VmRSS": &p.RSS, "VmHWM": &p.PeakRSS, "Threads": &p.Threads}
	seen := map[string]bool{}
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		dst := want[key]
		if !ok || dst == nil {
			continue
		}
		if seen[key] {
			return Process{}, formatError(file, line, key+" appears twice")
		}
		seen[key] = true
		value = strings.TrimLeft(value, " \t")
		if key == "Threads" {
			n, ok := parseUint(value)
			if !ok {
				return Process{}, formatError(file, line, "thread count is not a count")
			}
			*dst = n
			continue
		}
		kb, ok := strings.CutSuffix(value, " kB")
		n, isNum := parseUint(kb)
		if !ok || !isNum {
			return Process{}, formatError(file, line, "want a size in kB")
		}
		if n > math.MaxUint64/1024 {
			return Process{}, formatError(file, line, "size is out of range")
		}
		*dst = n * 1024
	}
	for _, key := range []string{"VmRSS", "VmHWM", "Threads"} {
		if !seen[key] {
			return Process{}, formatError(file, firstLine(data), "no "+key+" line")
		}
	}
	return p, nil
}

// firstLine returns the start of data for an error message.
func firstLine(data []byte) string {
	s, _, _ := strings.Cut(string(data), "\n")
	return s
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// the kernel fixes at 100 per second on every architecture Go runs on
// Linux (sysconf(_SC_CLK_TCK) reports it).
const userHZ = 100

// statMinFields is how many fields follow the command name up to starttime,
// the last one of the original stat layout; every kernel writes at least
// these.
const statMinFields = 20

// parseStat takes utime and stime from /proc/<pid>/stat: "pid (comm) state
// ppid …" where comm, the command name, may itself contain spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStat(file string, data []byte) (user, system time.Duration, err error) {
	line, ok := singleLine(data)
	if !ok {
		return 0, 0, formatError(file, line, "want one line ending in a newline")
	}
	pid, _, ok := strings.Cut(line, " (")
	end := strings.LastIndex(line, ")")
	if !ok || !isDigits(pid) || end < len(pid)+2 || !strings.HasPrefix(line[end:], ") ") {
		return 0, 0, formatError(file, line, `want "pid (command) state …"`)
	}
	f := strings.Split(line[end+2:], " ")
	if len(f) < statMinFields {
		return 0, 0, formatError(file, line, "too few fields after the command name")
	}
	if len(f[0]) != 1 || !isLetter(f[0][0]) {
		return 0, 0, formatError(file, f[0], "process state is not a letter")
	}
	// utime and stime are fields 14 and 15 of the line, 1-based; f[0] is
	// field 3.
	for i, dst := range []*time.Duration{&user, &system} {
		ticks, ok := parseUint(f[11+i])
		if !ok {
			return 0, 0, formatError(file, f[11+i], "CPU time is not a count of ticks")
		}
		if ticks > math.MaxInt64/uint64(time.Second/userHZ) {
			return 0, 0, formatError(file, f[11+i], "CPU time is out of range")
		}
		*dst = time.Duration(ticks) * (time.Second / userHZ)
	}
	return user, system, nil
}

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
