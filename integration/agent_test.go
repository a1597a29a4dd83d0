package integration

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
	"github.com/edgeagent/edgeagent/integration/proc"
)

// The agent under test: the built edgeagent binary run as a child process
// with a generated configuration, watched and driven over MQTT.
//
//	b := env.Start(t, mosquitto.Config{})
//	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}})
//	a.Set(t, "lamp", "ON")
//	reply := a.Call(t, "ping", nil)
//	a.Stop(t) // SIGTERM, exit 0 expected

// agentPkg is the main package under test.
const agentPkg = "github.com/edgeagent/edgeagent/cmd/edgeagent"

// agentVersion is what the built binary reports (main.version).
const agentVersion = "0.0.0-integration"

// Devices for AgentConfig.Devices, one YAML flow mapping each. PtyDevice
// and the others name their entity ids in their comments.
const (
	// LampDevice is a simulated relay, entity "lamp": `set` ON/OFF/TOGGLE,
	// state {"value":"ON",…} on edgeagent/<node>/lamp/state.
	LampDevice = `{name: lamp, type: relay, pin: GPIO23, simulate: true}`
	// ClimateDevice is a simulated HTU21D read every second: entities
	// climate_temperature and climate_humidity.
	ClimateDevice = `{name: climate, type: htu21d, interval: 1s, simulate: true}`
)

// PtyDevice is a simulated serial device, entity `name`, whose every line
// is a QoS 1 event delivered in full across outages (delivery: all): the
// test writes lines to the pty the agent links at Agent.PtyPath(name) (see
// Agent.WriteLines).
func PtyDevice(name string) string {
	return fmt.Sprintf(`{name: %s, type: uart_lines, port: /dev/tty-%s, as: event, simulate: {pty: PTYDIR/%s}, publish: {qos: 1, delivery: all}}`, name, name, name)
}

// AgentConfig is the part of the agent's configuration the scenarios vary.
// Zero values give short timings suited to fault injection.
type AgentConfig struct {
	// Brokers in order of preference (required): tcp:// or ssl:// URLs.
	Brokers []string
	// NodeID; default "it-node".
	NodeID string
	// ClientID; default the agent's (the node id).
	ClientID string
	// Username and Password: the password goes to a password_file.
	Username, Password string
	// CAFile, CertFile, KeyFile: mqtt.tls (PEM files).
	CAFile, CertFile, KeyFile string
	// Keepalive (whole seconds); default 2s.
	Keepalive time.Duration
	// BackoffMin and BackoffMax; default 100ms and 1s.
	BackoffMin, BackoffMax time.Duration
	// ReturnInterval to a preferred broker; default the agent's (1m).
	ReturnInterval time.Duration
	// StatusInterval; default the agent's (1m).
	StatusInterval time.Duration
	// ShutdownTimeout; default 10s.
	ShutdownTimeout time.Duration
	// NoHomeAssistant turns discovery off.
	NoHomeAssistant bool
	// Devices, one YAML flow mapping each; nil means LampDevice only.
	Devices []string
	// LogLevel; default "info".
	LogLevel string
	// StateDir; default a directory under t.TempDir().
	StateDir string
}

// Agent is one edgeagent child process (restartable on the same state
// directory) and a controller client on its first broker.
type Agent struct {
	Cfg        AgentConfig
	ConfigPath string
	bin        string
	dir        string // holds the config, password file and pty links

	mu   sync.Mutex
	proc *proc.Process
	ctl  *clients.Paho
	seq  int
}

// Base is the agent's topic prefix, "edgeagent/<node>".
func (a *Agent) Base() string { return "edgeagent/" + a.Cfg.NodeID }

// Topic joins levels below the agent's prefix: Topic("lamp", "set").
func (a *Agent) Topic(levels ...string) string {
	return a.Base() + "/" + strings.Join(levels, "/")
}

// Proc is the current child process.
func (a *Agent) Proc() *proc.Process {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.proc
}

// PtyPath is where the agent links the pty of PtyDevice(name).
func (a *Agent) PtyPath(name string) string { return filepath.Join(a.dir, "pty", name) }

// StartAgent builds the binary (once per run), writes the configuration,
// starts the agent and waits (30 s) until it is connected and its
// availability reads "online" on the first broker.
func StartAgent(t testing.TB, cfg AgentConfig) *Agent {
	t.Helper()
	a := NewAgent(t, cfg)
	a.Start(t)
	a.WaitOnline(t, 0, 30*time.Second)
	return a
}

// NewAgent prepares an agent (binary, configuration) without starting it.
func NewAgent(t testing.TB, cfg AgentConfig) *Agent {
	t.Helper()
	if len(cfg.Brokers) == 0 {
		t.Fatal("AgentConfig.Brokers is empty")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "it-node"
	}
	def(&cfg.Keepalive, 2*time.Second)
	def(&cfg.BackoffMin, 100*time.Millisecond)
	def(&cfg.BackoffMax, time.Second)
	def(&cfg.ShutdownTimeout, 10*time.Second)
	if cfg.Devices == nil {
		cfg.Devices = []string{LampDevice}
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	dir := t.TempDir()
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(dir, "state")
	}
	a := &Agent{Cfg: cfg, dir: dir, ConfigPath: filepath.Join(dir, "config.yaml")}
	a.bin = builds.Build(t, agentPkg, "-ldflags", "-X main.version="+agentVersion)
	if err := os.WriteFile(a.ConfigPath, []byte(a.yaml(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// yaml renders the configuration (and writes the password file).
func (a *Agent) yaml(t testing.TB) string {
	t.Helper()
	c := a.Cfg
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# written by the edgeagent integration tests")
	line("mqtt:")
	line("  brokers:")
	for _, u := range c.Brokers {
		line("    - %q", u)
	}
	line("  node_id: %s", c.NodeID)
	if c.ClientID != "" {
		line("  client_id: %q", c.ClientID)
	}
	line("  keepalive: %v", c.Keepalive)
	line("  connect_timeout: 3s")
	line("  backoff: {min: %v, max: %v}", c.BackoffMin, c.BackoffMax)
	if c.ReturnInterval != 0 {
		line("  return_interval: %v", c.ReturnInterval)
	}
	if c.StatusInterval != 0 {
		line("  status_interval: %v", c.StatusInterval)
	}
	if c.Username != "" {
		line("  username: %q", c.Username)
		pw := filepath.Join(a.dir, "mqtt.pw")
		if err := os.WriteFile(pw, []byte(c.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		line("  password_file: %s", pw)
	}
	if c.CAFile != "" || c.CertFile != "" {
		line("  tls:")
		if c.CAFile != "" {
			line("    ca_file: %s", c.CAFile)
		}
		if c.CertFile != "" {
			line("    cert_file: %s", c.CertFile)
			line("    key_file: %s", c.KeyFile)
		}
	}
	line("homeassistant: {enabled: %t}", !c.NoHomeAssistant)
	line("state_dir: %s", c.StateDir)
	line("shutdown_timeout: %v", c.ShutdownTimeout)
	line("log: {level: %s}", c.LogLevel)
	line("devices:")
	for _, d := range c.Devices {
		line("  - %s", strings.ReplaceAll(d, "PTYDIR", filepath.Join(a.dir, "pty")))
	}
	return b.String()
}

// Start starts the agent process (again, on the same configuration and
// state directory) without waiting; the previous one must have ended.
// Marks for WaitOnline and WaitLost count from 0 again.
func (a *Agent) Start(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil && !a.proc.Exited() {
		t.Fatal("Agent.Start: the previous process is still running")
	}
	a.proc = proc.Start(t, a.bin, proc.Options{Args: []string{"run", "--config", a.ConfigPath}})
}

var (
	connectedLine = regexp.MustCompile(`msg="bridge: connected"`)
	lostLine      = regexp.MustCompile(`msg="bridge: connection lost"`)
)

// WaitOnline waits until the current process logs a connection after its
// output line `after` (0: since it started) and the broker then holds
// "online" as the retained availability. It returns the connection line.
func (a *Agent) WaitOnline(t testing.TB, after int, timeout time.Duration) proc.Line {
	t.Helper()
	deadline := time.Now().Add(timeout)
	l := a.Proc().WaitLine(t, after, connectedLine, timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// The connection log comes before "online" is published: read the
	// retained value until it says so (a fresh subscription each time, as
	// the value may still be a previous run's will).
	for {
		m, ok := a.retained(t, a.Topic("availability"), time.Until(deadline))
		if ok && string(m.Payload) == "online" {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent connected (%s) but availability is not \"online\" within %v (last: %v)", l.Text, timeout, m)
		}
		<-tick.C
	}
}

// WaitLost waits for the agent to log a lost connection after output line
// `after` and returns the line.
func (a *Agent) WaitLost(t testing.TB, after int, timeout time.Duration) proc.Line {
	t.Helper()
	return a.Proc().WaitLine(t, after, lostLine, timeout)
}

// Controller is the test's paho client on the agent's first broker (made
// on first use, auto-reconnecting, clean session).
func (a *Agent) Controller(t testing.TB) *clients.Paho {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctl == nil {
		a.ctl = clients.Connect(t, clients.PahoOptions{URL: a.Cfg.Brokers[0], ClientID: "it-ctl-" + a.Cfg.NodeID + "-" + rand.Text()[:6],
			KeepAlive: 2 * time.Second, PingTimeout: 2 * time.Second,
			AutoReconnect: true, MaxReconnectInterval: 500 * time.Millisecond})
	}
	return a.ctl
}

// awaitController is the controller once it is connected (it may be
// reconnecting after a broker restart).
func (a *Agent) awaitController(t testing.TB, timeout time.Duration) *clients.Paho {
	t.Helper()
	c := a.Controller(t)
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !c.Client().IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatalf("the test's controller client is not connected to %s within %v", a.Cfg.Brokers[0], timeout)
		}
		<-tick.C
	}
	return c
}

// Set publishes a command to <base>/<node>/<entity>/set at QoS 1.
func (a *Agent) Set(t testing.TB, entity, payload string) {
	t.Helper()
	a.awaitController(t, 10*time.Second).Publish(t, a.Topic(entity, "set"), 1, false, []byte(payload))
}

// Reply is a request's reply as the agent sent it.
type Reply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	// RTT is from the request's publish to the reply's arrival.
	RTT time.Duration `json:"-"`
}

// Call makes a QoS 1 request (params marshalled to JSON; nil for none)
// and waits (10 s) for its reply in the clients' reply namespace.
func (a *Agent) Call(t testing.TB, method string, params any) Reply {
	t.Helper()
	c := a.awaitController(t, 10*time.Second)
	a.mu.Lock()
	a.seq++
	id := fmt.Sprintf("it-%d", a.seq)
	a.mu.Unlock()
	replyTo := "edgeagent/_client/it-ctl/reply/" + id
	req := map[string]any{"id": id, "reply_to": replyTo}
	if params != nil {
		req["params"] = params
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	replies := c.Subscribe(t, replyTo, 1)
	defer func() { _ = c.Client().Unsubscribe(replyTo).WaitTimeout(5 * time.Second) }()
	start := time.Now()
	c.Publish(t, a.Topic("req", method), 1, false, body)
	m := replies.WaitFor(t, "reply to "+method, 10*time.Second, func(clients.Message) bool { return true })
	var r Reply
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("reply to %s is not JSON: %v: %s", method, err, m.Payload)
	}
	r.RTT = m.At.Sub(start)
	if string(r.ID) != `"`+id+`"` {
		t.Fatalf("reply to %s carries id %s, want %q", method, r.ID, id)
	}
	return r
}

// Retained reads the retained message of topic from the first broker (a
// new subscription; 5 s at most) and fails the test if there is none.
func (a *Agent) Retained(t testing.TB, topic string) clients.Message {
	t.Helper()
	m, ok := a.retained(t, topic, 5*time.Second)
	if !ok {
		t.Fatalf("no retained message on %s within 5s", topic)
	}
	return m
}

func (a *Agent) retained(t testing.TB, topic string, timeout time.Duration) (clients.Message, bool) {
	t.Helper()
	c := a.awaitController(t, timeout)
	col := c.Subscribe(t, topic, 1)
	defer func() { _ = c.Client().Unsubscribe(topic).WaitTimeout(5 * time.Second) }()
	msgs, err := col.Await(min(timeout, 5*time.Second), func(ms []clients.Message) bool {
		return len(ms) > 0 && ms[0].Retained
	})
	if err != nil || len(msgs) == 0 || !msgs[0].Retained {
		return clients.Message{}, false
	}
	return msgs[0], true
}

// WriteLines writes lines to the pty of PtyDevice(name), one write each.
func (a *Agent) WriteLines(t testing.TB, name string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(a.PtyPath(name), os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty of %s: %v", name, err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatalf("write to the pty of %s: %v", name, err)
		}
	}
}

// WaitLinesRead polls the read method until the serial device `name`
// says it has read at least n lines (since the process started).
func (a *Agent) WaitLinesRead(t testing.TB, name string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r := a.Call(t, "read", name)
		var res struct {
			Now struct {
				Lines int `json:"lines"`
			} `json:"now"`
		}
		if err := json.Unmarshal(r.Result, &res); err != nil || r.Error != "" {
			t.Fatalf("read %s: %s %s (%v)", name, r.Result, r.Error, err)
		}
		if res.Now.Lines >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s read %d of %d lines within %v", name, res.Now.Lines, n, timeout)
		}
		<-tick.C
	}
}

// Stop sends SIGTERM and waits (20 s) for the exit, which it returns.
func (a *Agent) Stop(t testing.TB) proc.Exit {
	t.Helper()
	p := a.Proc()
	p.Signal(t, syscall.SIGTERM)
	return p.Wait(t, 20*time.Second)
}

// Kill sends SIGKILL and waits for the exit.
func (a *Agent) Kill(t testing.TB) proc.Exit {
	t.Helper()
	return a.Proc().Kill(t)
}

// RSS is the agent's resident set size in bytes.
func (a *Agent) RSS(t testing.TB) int64 {
	t.Helper()
	n, err := a.Proc().RSS()
	if err != nil {
		t.Fatalf("RSS of the agent: %v", err)
	}
	return n
}

// mib renders bytes as MiB for figures.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// The agent-under-test helper itself: start, request, command, retained
// state, graceful stop.
func TestHarnessAgent(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{})
	a := NewAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-harness"})
	start := time.Now()
	a.Start(t)
	a.WaitOnline(t, 0, 30*time.Second)
	t.Logf("figure: agent process started and online in %v", time.Since(start).Round(time.Millisecond))
	r := a.Call(t, "ping", nil)
	if r.Error != "" || !strings.Contains(string(r.Result), `"pong":true`) {
		t.Errorf("ping: %+v", r)
	}
	if r := a.Call(t, "nosuch", nil); r.Error == "" {
		t.Errorf("unknown method answered without an error: %s", r.Result)
	}
	states := a.Controller(t).Subscribe(t, a.Topic("lamp", "state"), 1)
	a.Set(t, "lamp", "ON")
	states.WaitFor(t, "lamp ON", 10*time.Second, func(m clients.Message) bool {
		return strings.Contains(string(m.Payload), `"value":"ON"`)
	})
	if m := a.Retained(t, a.Topic("lamp", "state")); !strings.Contains(string(m.Payload), `"value":"ON"`) {
		t.Errorf("retained lamp state %v, want ON", m)
	}
	t.Logf("figure: agent RSS %s", mib(a.RSS(t)))
	if exit := a.Stop(t); exit.Code != 0 {
		t.Errorf("SIGTERM: %v, want exit code 0", exit)
	}
	if m := a.Retained(t, a.Topic("availability")); string(m.Payload) != "offline" {
		t.Errorf("availability after the stop: %v, want offline", m)
	}
}
