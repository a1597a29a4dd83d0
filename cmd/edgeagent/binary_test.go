package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/agent/demobroker"
)

// binary builds the edgeagent binary once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "edgeagent-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "edgeagent")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, nil
})

func needBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is the binary running as a child process.
type proc struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startBinary(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(needBinary(t), args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		t.Fatalf("%v: the agent did not exit", sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the process's stderr (the log) contains s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q", s)
		}
		time.Sleep(10 * time.Millisecond) // polling a child's output: there is no signal to wait on
	}
}

// watcher records every message of a broker.
type watcher struct {
	mu      sync.Mutex
	msgs    map[string][]string
	changed chan struct{}
	c       mqtt.Client
}

func watch(t *testing.T, url string) *watcher {
	t.Helper()
	w := &watcher{msgs: map[string][]string{}, changed: make(chan struct{})}
	var c mqtt.Client
	deadline := time.Now().Add(waitLimit)
	for {
		c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano())).
			SetAutoReconnect(false).SetConnectTimeout(time.Second))
		tok := c.Connect()
		if tok.WaitTimeout(waitLimit) && tok.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect %s: %v", url, tok.Error())
		}
		time.Sleep(20 * time.Millisecond) // the broker is a child process starting up
	}
	t.Cleanup(func() { c.Disconnect(0) })
	w.c = c
	if tok := c.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) {
		w.mu.Lock()
		w.msgs[m.Topic()] = append(w.msgs[m.Topic()], string(m.Payload()))
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return w
}

// wait waits until a message on topic satisfies match, and returns it.
func (w *watcher) wait(t *testing.T, topic string, match func(string) bool) string {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		w.mu.Lock()
		ch := w.changed
		for _, p := range w.msgs[topic] {
			if match(p) {
				w.mu.Unlock()
				return p
			}
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("no message on %s as expected; got %q", topic, w.msgs[topic])
		}
	}
}

func hasValue(v string) func(string) bool {
	return func(p string) bool {
		var s struct{ Value any }
		return json.Unmarshal([]byte(p), &s) == nil && fmt.Sprint(s.Value) == v
	}
}

func any_(string) bool { return true }

// run runs the binary to completion and returns its output and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(needBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// The demo as a user meets it: the built binary with its own broker, seen
// by a real MQTT client and by the call command.
func TestBinaryDemo(t *testing.T) {
	needBinary(t)
	port := freePort(t)
	dir := t.TempDir()
	started := time.Now()
	p := startBinary(t, nil, "demo", "--port", strconv.Itoa(port), "--state-dir", dir)
	url := "tcp://127.0.0.1:" + strconv.Itoa(port)
	w := watch(t, url)
	disc := w.wait(t, "homeassistant/device/demo/config", any_)
	for _, e := range []string{`"doorbell":{"platform":"event"`, `"porch_light":{"platform":"switch"`, `"status_led":{"platform":"light"`, `"host_cpu_temperature":{"platform":"sensor"`} {
		if !strings.Contains(disc, e) {
			t.Errorf("discovery lacks %s: %s", e, disc)
		}
	}
	state := w.wait(t, "edgeagent/demo/porch_light/state", hasValue("OFF"))
	w.wait(t, "edgeagent/demo/host_cpu_temperature/state", any_)
	// The state says when it was observed: within 2 s of the start.
	var st struct{ Time time.Time }
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		t.Fatal(err)
	}
	if d := st.Time.Sub(started); d > 2*time.Second {
		t.Errorf("the first state came %v after the start", d)
	}
	hint := p.stdout.String()
	if !strings.Contains(hint, "watch:   edgeagent sub --broker "+url) || !strings.Contains(hint, "mosquitto_pub -h 127.0.0.1 -p "+strconv.Itoa(port)+" -t edgeagent/demo/porch_light/set -m ON") {
		t.Errorf("hint:\n%s", hint)
	}

	out, errOut, code := run(t, "call", "ping", "--broker", url)
	if code != 0 || !strings.Contains(out, `"pong": true`) || !strings.Contains(out, `"node": "demo"`) {
		t.Fatalf("call ping: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "call", "read", "porch_light", "--broker", url)
	if code != 0 || !strings.Contains(out, `"device": "porch_light"`) || !strings.Contains(out, `"state": "running"`) {
		t.Fatalf("call read: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "call", "read", "nosuch", "--broker", url, "--node", "demo")
	if code != 1 || !strings.Contains(errOut, `no device "nosuch"`) || out != "" {
		t.Fatalf("call read nosuch: %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, "call", "ping", "--broker", url, "--node", "absent", "--timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "no reply within 300ms") {
		t.Fatalf("call to an absent node: %d %s", code, errOut)
	}

	if tok := w.c.Publish("edgeagent/demo/porch_light/set", 1, false, "ON"); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	w.wait(t, "edgeagent/demo/porch_light/state", hasValue("ON"))

	// SIGHUP with a bad file: refused, the agent goes on.
	cfgPath := filepath.Join(dir, "demo.yaml")
	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(good, "  - {name: fan, type: relay, pin: GPIO24, colour: blue}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "reload refused")
	p.waitLog(t, `].colour: unknown key`)
	// SIGHUP with a good one: the new device comes up.
	if err := os.WriteFile(cfgPath, append(good, "  - {name: fan, type: relay, pin: GPIO24, simulate: true}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	w.wait(t, "edgeagent/demo/fan/state", hasValue("OFF"))
	out, _, code = run(t, "call", "ping", "--broker", url)
	if code != 0 || !strings.Contains(out, "pong") {
		t.Fatalf("ping after reloads: %d %s", code, out)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// SIGTERM stops the agent gracefully: "offline" retained on the broker
// (read back after the agent has gone, from the broker it used through
// --broker), exit 0; the systemd notifications come through NOTIFY_SOCKET:
// READY, STATUS, WATCHDOG from the loop, STOPPING.
func TestBinarySIGTERMOfflineAndNotify(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broker, err := demobroker.Serve(ln, demobroker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	notes := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()

	p := startBinary(t, []string{"NOTIFY_SOCKET=" + sockPath, "WATCHDOG_USEC=200000"},
		"demo", "--broker", broker.URL(), "--state-dir", t.TempDir())
	w := watch(t, broker.URL())
	w.wait(t, "edgeagent/demo/availability", func(s string) bool { return s == "online" })
	got := map[string]int{}
	timeout := time.After(waitLimit)
	for got["READY=1"] == 0 || got["WATCHDOG=1"] < 2 || got["STATUS"] == 0 {
		select {
		case n := <-notes:
			for _, line := range strings.Split(n, "\n") {
				key, _, _ := strings.Cut(line, "=")
				if key == "STATUS" {
					got["STATUS"]++
				} else {
					got[line]++
				}
			}
		case <-timeout:
			t.Fatalf("notifications so far: %v", got)
		}
	}
	start := time.Now()
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the stop took %v, beyond the shutdown timeout", d)
	}
	stopping := false
	for !stopping {
		select {
		case n, ok := <-notes:
			if !ok {
				t.Fatal("no STOPPING=1")
			}
			stopping = strings.Contains(n, "STOPPING=1")
		case <-time.After(waitLimit):
			t.Fatal("no STOPPING=1")
		}
	}
	// A client that connects now gets the retained availability.
	late := watch(t, broker.URL())
	late.wait(t, "edgeagent/demo/availability", func(s string) bool { return s == "offline" })
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Errorf("no 'stopped' in the log")
	}
}

// validate lists every error of a broken file, each with its place, and
// exits 1; a good file gets the one-line summary saying what was checked.
func TestBinaryValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("mqtt:\n  keepalive: 10 sec\ndevices:\n  - {name: a, type: relay, pin: GPIO5, pinn: 3}\n  - {name: b, type: relay, pin: GPIO5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "validate", "--config", bad)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 4 || !strings.HasPrefix(lines[0], bad+":2:14: mqtt.keepalive:") ||
		!strings.Contains(out, "devices[0].pinn: unknown key") || !strings.Contains(out, "devices[1].pin: GPIO5 is also used by devices[0].pin") ||
		lines[3] != "3 error(s): nothing started" {
		t.Fatalf("validate bad: %d\n%s", code, out)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("mqtt: {node_id: porch}\ndevices:\n  - {name: host, type: system}\n  - {name: r, type: relay, pin: GPIO5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "validate", "--config", good)
	if code != 0 || !strings.Contains(out, `OK: node "porch"`) || !strings.Contains(out, "form checked only") {
		t.Fatalf("validate good: %d %s", code, out)
	}
	out, _, code = run(t, "discovery", "--config", good)
	if code != 0 || !strings.HasPrefix(out, "homeassistant/device/porch/config  (retained)\n{") || !strings.Contains(out, `"r": {`) {
		t.Fatalf("discovery: %d %s", code, out)
	}
	// No devices: what run publishes is the removal of the node's device.
	none := filepath.Join(dir, "none.yaml")
	if err := os.WriteFile(none, []byte("mqtt: {node_id: porch}\ndevices: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, "discovery", "--config", none)
	if code != 0 || !strings.HasPrefix(out, "homeassistant/device/porch/config  (an empty retained payload") {
		t.Fatalf("discovery without devices: %d %s", code, out)
	}
}
