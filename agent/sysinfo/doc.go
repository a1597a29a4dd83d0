// Package sysinfo reads the readings of the agent's `system` device from the
// kernel: the CPU temperature from a thermal zone (/sys/class/thermal), the
// load averages (/proc/loadavg), the system's uptime (/proc/uptime), and the
// agent's own memory and CPU time (/proc/self/status, /proc/self/stat).
//
// Every function takes the root directory of the file system to read ("/"
// on a board; a fake tree in tests) and is a plain, blocking file read: on
// the loop, call them through loop.Offload. They parse strictly — a file
// that is not what the kernel writes is a *FormatError naming the file and
// the text — and never panic.
//
// Many machines have no thermal zone at all (containers, most VMs, some
// boards). Then FindZone returns an error matching ErrNotAvailable: a fact
// about the machine to report once, not a fault to retry.
package sysinfo
