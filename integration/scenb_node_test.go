package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/proc"
)

// The agent under test as scenarios 6, 7, 8 and 10 need it: a built
// edgeagent with a generated configuration, run as a child process.

// bNode describes one agent's configuration.
type bNode struct {
	ID      string   // node id
	Brokers []string // broker URLs in order of preference
	// MQTT lines added under mqtt: (username, tls, return_interval …).
	MQTT []string
	// Devices is the YAML list of devices; default one simulated relay
	// "lamp".
	Devices string
	// HA turns Home Assistant discovery on.
	HA bool
	// Files to write next to the configuration (name → content), such
	// as the password file.
	Files map[string]string
}

// bAgent is a running agent.
type bAgent struct {
	*proc.Process
	cfg  bNode
	dir  string
	base string // "edgeagent/<node>"
}

const bLampDevices = `
  - {name: lamp, type: relay, pin: GPIO23, simulate: true}
`

// yaml renders the configuration for state directory dir.
func (n bNode) yaml(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mqtt:\n  brokers: [%s]\n  node_id: %s\n", strings.Join(n.Brokers, ", "), n.ID)
	// Short settings so that faults resolve in seconds.
	b.WriteString("  keepalive: 2s\n  connect_timeout: 2s\n  backoff: {min: 100ms, max: 1s}\n  status_interval: 1s\n")
	for _, l := range n.MQTT {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "homeassistant: {enabled: %t}\n", n.HA)
	fmt.Fprintf(&b, "state_dir: %s\nshutdown_timeout: 5s\nlog: {level: debug}\n", filepath.Join(dir, "state"))
	devs := n.Devices
	if devs == "" {
		devs = bLampDevices
	}
	b.WriteString("devices:" + devs)
	return b.String()
}

// startBAgent writes the configuration into a fresh directory and starts
// the agent on it; it does not wait for the connection.
func startBAgent(t *testing.T, n bNode) *bAgent {
	t.Helper()
	dir := t.TempDir()
	return startBAgentIn(t, n, dir)
}

func startBAgentIn(t *testing.T, n bNode, dir string) *bAgent {
	t.Helper()
	var flags []string
	if proc.RaceEnabled {
		flags = append(flags, "-race")
	}
	bin := builds.Build(t, "github.com/edgeagent/edgeagent/cmd/edgeagent", flags...)
	for name, content := range n.Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(n.yaml(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proc.Start(t, bin, proc.Options{Args: []string{"run", "--config", path}, Dir: dir})
	return &bAgent{Process: p, cfg: n, dir: dir, base: "edgeagent/" + n.ID}
}

var bConnectedRe = regexp.MustCompile(`msg="bridge: connected"`)

// waitConnected waits for the agent's log line saying it connected to
// broker (a URL; "" for any) after line `after`, and returns the line.
func (a *bAgent) waitConnected(t *testing.T, after int, broker string, timeout time.Duration) proc.Line {
	t.Helper()
	re := bConnectedRe
	if broker != "" {
		re = regexp.MustCompile(`msg="bridge: connected" broker=` + regexp.QuoteMeta(broker) + `\b`)
	}
	return a.WaitLine(t, after, re, timeout)
}

// bStatus is the part of the agent's status the scenarios read.
type bStatus struct {
	Connected bool   `json:"connected"`
	Broker    string `json:"broker"`
	Outbox    int    `json:"outbox"`
	MQTT      struct {
		Connects       uint64 `json:"connects"`
		RequestsServed uint64 `json:"requests_served"`
		RequestErrors  uint64 `json:"request_errors"`
		Echo           string `json:"echo"`
		Refused        []struct {
			Filter   string `json:"filter"`
			Refusals uint64 `json:"refusals"`
		} `json:"refused"`
	} `json:"mqtt"`
}

// waitStatus waits until a status publication in c satisfies ok.
func waitStatus(t *testing.T, c *clients.Collector, what string, timeout time.Duration, ok func(bStatus) bool) (bStatus, clients.Message) {
	t.Helper()
	var st bStatus
	m := c.WaitFor(t, what, timeout, func(m clients.Message) bool {
		var s bStatus
		if !strings.HasSuffix(m.Topic, "/status") || json.Unmarshal(m.Payload, &s) != nil || !ok(s) {
			return false
		}
		st = s
		return true
	})
	return st, m
}

// bReply is a request's reply.
type bReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func parseReply(t *testing.T, m clients.Message) bReply {
	t.Helper()
	var r bReply
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("reply on %s is not JSON: %q", m.Topic, m.Payload)
	}
	return r
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// stateValue is the value of a state payload ({"value": …, "time": …}).
func stateValue(m clients.Message) any {
	var s struct {
		Value any `json:"value"`
	}
	if json.Unmarshal(m.Payload, &s) != nil {
		return nil
	}
	return s.Value
}

// waitState waits for a state message on topic whose value is want.
func waitState(t *testing.T, c *clients.Collector, topic string, want any, timeout time.Duration) clients.Message {
	t.Helper()
	return c.WaitFor(t, fmt.Sprintf("%s = %v", topic, want), timeout, func(m clients.Message) bool {
		return m.Topic == topic && stateValue(m) == want
	})
}
