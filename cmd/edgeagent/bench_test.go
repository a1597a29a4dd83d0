package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/agent/demobroker"
)

var idleFor = flag.Duration("idle", 30*time.Second, "how long BenchmarkDemoIdle lets the demo idle")

// procUsage reads a process's CPU time and resident memory. The CPU time
// is the sum of its threads' time on a CPU from schedstat, in nanoseconds
// (the stat file's clock ticks of 10 ms are too coarse for an idle process).
func procUsage(pid int) (cpu time.Duration, rss int64, err error) {
	threads, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, th := range threads {
		b, err := os.ReadFile(th)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		cpu += time.Duration(ns)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb * 1024
		}
	}
	return cpu, rss, nil
}

// idleUsage starts the binary with args, lets it settle for 2 s, then
// measures its CPU share and RSS over d.
func idleUsage(b *testing.B, d time.Duration, args ...string) (cpuPct float64, rssMB float64) {
	cmd := exec.Command(needBinaryB(b), args...)
	cmd.Stderr, cmd.Stdout = nil, nil
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	time.Sleep(2 * time.Second) // start-up is not idling
	c0, _, err := procUsage(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(d)
	c1, rss, err := procUsage(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return 100 * float64(c1-c0) / float64(time.Since(t0)), float64(rss) / 1e6
}

func needBinaryB(b *testing.B) string {
	path, err := binary()
	if err != nil {
		b.Fatal(err)
	}
	return path
}

func benchBroker(b *testing.B) *demobroker.Broker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	br, err := demobroker.Serve(ln, demobroker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	return br
}

// BenchmarkDemoIdle: the demo agent (its broker in the benchmark's process,
// so only the agent is measured) idling with its ten simulated devices at
// their intervals, against a baseline in the same run: `edgeagent sub`,
// an idle paho client of the same broker. Reports the CPU share of one core
// and the RSS of each.
func BenchmarkDemoIdle(b *testing.B) {
	br := benchBroker(b)
	for b.Loop() {
		cpu, rss := idleUsage(b, *idleFor, "demo", "--broker", br.URL(), "--state-dir", b.TempDir())
		baseCPU, baseRSS := idleUsage(b, *idleFor, "sub", "--broker", br.URL(), "--node", "nobody")
		b.ReportMetric(cpu, "agent-cpu-%")
		b.ReportMetric(rss, "agent-rss-MB")
		b.ReportMetric(baseCPU, "sub-cpu-%")
		b.ReportMetric(baseRSS, "sub-rss-MB")
	}
}

// BenchmarkStartToReady: from exec to READY=1 on the notify socket, for the
// demo agent on a running broker; the baseline is exec to exit of
// `edgeagent version` (the cost of starting the binary at all).
func BenchmarkStartToReady(b *testing.B) {
	br := benchBroker(b)
	path := needBinaryB(b)
	sockPath := filepath.Join(b.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	defer sock.Close()
	var ready, version time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(path, "version").Run(); err != nil {
			b.Fatal(err)
		}
		version += time.Since(t0)

		cmd := exec.Command(path, "demo", "--broker", br.URL(), "--state-dir", b.TempDir())
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
		t0 = time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			_ = sock.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := sock.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			if string(buf[:n]) == "READY=1" {
				break
			}
		}
		ready += time.Since(t0)
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ready-ms")
	b.ReportMetric(float64(version.Milliseconds())/float64(b.N), "version-exit-ms")
}
