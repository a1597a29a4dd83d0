package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
	"github.com/edgeagent/edgeagent/integration/pki"
)

// readmeACL is the per-node ACL docs/mqtt.md recommends ("A Mosquitto ACL
// for a fleet"), as it stands there.
const readmeACL = `user homeassistant
topic readwrite homeassistant/#
topic readwrite edgeagent/#

user ops
topic read edgeagent/#
topic write edgeagent/+/req/+

pattern readwrite edgeagent/%u/#
pattern write edgeagent/+/req/+
pattern write edgeagent/+/reply/#
pattern write edgeagent/_client/+/reply/#
pattern readwrite homeassistant/device/%u/config
pattern read homeassistant/status
`

// adminSub subscribes the broker's harness account (which may read
// everything) to filter.
func adminSub(t *testing.T, b *mosquitto.Broker, filter string) (*clients.Paho, *clients.Collector) {
	t.Helper()
	user, pw := b.Admin()
	c := clients.Connect(t, clients.PahoOptions{URL: b.URL(), Username: user, Password: pw})
	return c, c.Subscribe(t, filter, 1)
}

// Scenario 7: security. TLS with a CA, mutual TLS with client certificates,
// a password file and the per-node ACL of docs/mqtt.md; wrong credentials
// refused and logged without the secret; subscriptions refused loudly
// (dynamic security) and silently (acl_file); reply_to aimed at another
// node's topics.
func TestScenario7Security(t *testing.T) {
	t.Parallel()
	env.Require(t)
	ca := pki.NewCA(t, "edgeagent scenario 7 CA")
	server := ca.Server(t, "broker")
	rogueCA := pki.NewCA(t, "rogue CA")

	t.Run("mutual TLS, password and the README's ACL: the node works", func(t *testing.T) {
		t.Parallel()
		const node, pw = "s7-node", "correct horse battery staple"
		nodeID, opsID, haID := ca.Client(t, node), ca.Client(t, "ops"), ca.Client(t, "homeassistant")
		b := env.Start(t, mosquitto.Config{Name: "s7-acl",
			TLS:   &mosquitto.TLS{CA: ca.PEM, Cert: server.CertPEM, Key: server.KeyPEM, RequireClientCert: true},
			Users: map[string]string{node: pw, "ops": "ops-pw", "homeassistant": "ha-pw"},
			ACL:   readmeACL,
		})
		_, watch := adminSub(t, b, "edgeagent/"+node+"/#")
		_, disco := adminSub(t, b, "homeassistant/device/"+node+"/config")

		a := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.TLSURL()}, StatusInterval: time.Second,
			Username: node, Password: pw, CAFile: ca.File, CertFile: nodeID.CertFile, KeyFile: nodeID.KeyFile})
		start := time.Now()
		a.Start(t)
		a.Proc().WaitLine(t, 0, connectedLine, 30*time.Second)
		st, _ := waitStatus(t, watch, "status with the echo back", 20*time.Second, func(s bStatus) bool { return s.MQTT.Echo != "" })
		t.Logf("figure: S7 node under mutual TLS + password + README ACL: connected, echo %q %v after start", st.MQTT.Echo, time.Since(start).Round(time.Millisecond))
		if st.MQTT.Echo != "ok" || len(st.MQTT.Refused) != 0 {
			t.Errorf("under the README's ACL: echo %q, refused %v; want ok and none", st.MQTT.Echo, st.MQTT.Refused)
		}
		if m := disco.WaitFor(t, "discovery config", 20*time.Second, func(clients.Message) bool { return true }); !json.Valid(m.Payload) {
			t.Errorf("discovery config is not JSON: %q", m.Payload)
		}

		// An operator's call, over mutual TLS as user ops.
		ops := clients.Connect(t, clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(ca, opsID), Username: "ops", Password: "ops-pw"})
		replies := ops.Subscribe(t, "edgeagent/_client/ops/reply/#", 1)
		ops.Publish(t, "edgeagent/"+node+"/req/ping", 1, false, []byte(`{"id":"s7-1","reply_to":"edgeagent/_client/ops/reply/s7-1"}`))
		r := parseReply(t, replies.WaitFor(t, "ping reply", 10*time.Second, func(clients.Message) bool { return true }))
		if r.Error != "" || !strings.Contains(string(r.Result), `"pong":true`) {
			t.Errorf("ping under the ACL: %+v", r)
		}
		// Home Assistant switches the lamp.
		ha := clients.Connect(t, clients.PahoOptions{URL: b.TLSURL(), TLS: pki.ClientConfig(ca, haID), Username: "homeassistant", Password: "ha-pw"})
		ha.Publish(t, "edgeagent/"+node+"/lamp/set", 1, false, []byte("ON"))
		waitState(t, watch, "edgeagent/"+node+"/lamp/state", "ON", 10*time.Second)
	})

	t.Run("TLS with a CA: the node checks the broker's certificate", func(t *testing.T) {
		t.Parallel()
		const node = "s7-tls"
		b := env.Start(t, mosquitto.Config{Name: "s7-tls", TLS: &mosquitto.TLS{CA: ca.PEM, Cert: server.CertPEM, Key: server.KeyPEM}})
		_, watch := adminSub(t, b, "edgeagent/"+node+"/#")
		a := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.TLSURL()}, CAFile: ca.File, NoHomeAssistant: true})
		a.Start(t)
		a.Proc().WaitLine(t, 0, connectedLine, 30*time.Second)
		watch.WaitPayload(t, "edgeagent/"+node+"/availability", "online", 10*time.Second)
		a.Kill(t)

		// A node that trusts another authority refuses this broker.
		distrust := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.TLSURL()}, CAFile: rogueCA.File, NoHomeAssistant: true})
		distrust.Start(t)
		line := distrust.Proc().WaitLine(t, 0, regexp.MustCompile(`msg="bridge: connection attempt failed".*certificate`), 30*time.Second)
		t.Logf("a node trusting another CA: %s", line.Text)
		if _, err := distrust.Proc().AwaitLine(0, connectedLine, 0); err == nil {
			t.Error("a node trusting another CA connected")
		}
	})

	t.Run("wrong certificate or password: refused, logged without the secret", func(t *testing.T) {
		t.Parallel()
		const node, pw, wrong = "s7-node", "correct horse battery staple", "Tr0ub4dor&3-wrong"
		rogue := rogueCA.Client(t, node)
		good := ca.Client(t, node)
		b := env.Start(t, mosquitto.Config{Name: "s7-refuse",
			TLS:   &mosquitto.TLS{CA: ca.PEM, Cert: server.CertPEM, Key: server.KeyPEM, RequireClientCert: true},
			Users: map[string]string{node: pw},
		})
		failRe := regexp.MustCompile(`msg="bridge: connection attempt failed"`)
		cases := []struct {
			name, cert, key string
			password        string
			secrets         []string
		}{
			{"client certificate from another CA", rogue.CertFile, rogue.KeyFile, pw, []string{pw, pemBody(rogue.KeyPEM)}},
			{"wrong password", good.CertFile, good.KeyFile, wrong, []string{wrong, pemBody(good.KeyPEM)}},
		}
		for _, c := range cases {
			a := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.TLSURL()},
				Username: node, Password: c.password, CAFile: ca.File, CertFile: c.cert, KeyFile: c.key})
			a.Start(t)
			p := a.Proc()
			first := p.WaitLine(t, 0, failRe, 30*time.Second)
			// A second attempt shows the refusal is steady, not a start-up race.
			p.WaitLine(t, first.N+1, failRe, 30*time.Second)
			t.Logf("%s: what the operator sees: %s", c.name, first.Text)
			if _, err := p.AwaitLine(0, connectedLine, 0); err == nil {
				t.Errorf("%s: the agent connected", c.name)
			}
			out := p.Output()
			for _, s := range c.secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s: the agent's log contains a secret (%.12q…)", c.name, s)
				}
			}
			if p.Exited() {
				t.Errorf("%s: the agent exited; it must keep retrying", c.name)
			}
			a.Kill(t)
		}
		line := b.WaitLog(t, 0, regexp.MustCompile(`not authorised|certificate|OpenSSL Error`), 10*time.Second)
		t.Logf("what the broker's operator sees: %s", line)
		if logs := b.Logs(t); strings.Contains(logs, wrong) {
			t.Error("the broker's log contains the wrong password")
		}
	})

	t.Run("dynamic security refuses a subscription (0x80): reported, retried slowly", func(t *testing.T) {
		t.Parallel()
		const node = "s7-dynsec"
		b := env.Start(t, mosquitto.Config{Name: "s7-dynsec", DynSec: &mosquitto.DynSec{
			DenyByDefault: true,
			Clients:       []mosquitto.DynSecClient{{Username: node, Password: "pw", Roles: []string{"node"}}},
			// The node's own tree and its discovery config, but not Home
			// Assistant's birth topic.
			Roles: []mosquitto.DynSecRole{{Name: "node", ACLs: []mosquitto.DynSecACL{
				{Type: "subscribePattern", Topic: "edgeagent/" + node + "/#", Allow: true},
				{Type: "publishClientSend", Topic: "edgeagent/" + node + "/#", Allow: true},
				{Type: "publishClientSend", Topic: "homeassistant/device/" + node + "/config", Allow: true},
			}}},
		}})
		_, watch := adminSub(t, b, "edgeagent/"+node+"/status")
		a := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.URL()}, StatusInterval: time.Second,
			Username: node, Password: "pw"})
		a.Start(t)
		refusedRe := regexp.MustCompile(`msg="bridge: broker refused the subscription" filter=homeassistant/status`)
		first := a.Proc().WaitLine(t, 0, refusedRe, 30*time.Second)
		t.Logf("what the operator sees in the log: %s", first.Text)
		st, _ := waitStatus(t, watch, "status naming the refused subscription", 20*time.Second, func(s bStatus) bool { return len(s.MQTT.Refused) > 0 })
		js, _ := json.Marshal(st.MQTT)
		t.Logf("what the operator sees in the status: %s", js)
		if st.MQTT.Refused[0].Filter != "homeassistant/status" || st.MQTT.Echo != "ok" {
			t.Errorf("status: refused %v, echo %q; want homeassistant/status refused and the echo back", st.MQTT.Refused, st.MQTT.Echo)
		}
		// The retry comes after a back-off of seconds, not at once.
		second := a.Proc().WaitLine(t, first.N+1, refusedRe, 30*time.Second)
		gap := second.At.Sub(first.At)
		t.Logf("figure: S7 dynsec refusal retried after %v", gap.Round(time.Millisecond))
		if gap < 2*time.Second {
			t.Errorf("refused subscription retried after %v: a hot loop", gap)
		}
		// The rest of the node works: a request gets its reply.
		user, pw := b.Admin()
		caller := clients.Connect(t, clients.PahoOptions{URL: b.URL(), Username: user, Password: pw})
		res := caller.Subscribe(t, "edgeagent/"+node+"/res/ping", 1)
		caller.Publish(t, "edgeagent/"+node+"/req/ping", 1, false, []byte(`{"id":1}`))
		if r := parseReply(t, res.WaitFor(t, "ping reply", 10*time.Second, func(clients.Message) bool { return true })); r.Error != "" {
			t.Errorf("ping with a refused subscription: %+v", r)
		}
	})

	t.Run("acl_file grants and withholds silently: the echo check shows it", func(t *testing.T) {
		t.Parallel()
		const node = "s7-silent"
		// The node may publish in its tree but read nothing of it: Mosquitto
		// grants the subscriptions and delivers nothing.
		b := env.Start(t, mosquitto.Config{Name: "s7-silent",
			Users: map[string]string{node: "pw"},
			ACL:   "user " + node + "\ntopic write edgeagent/" + node + "/#\n",
		})
		_, watch := adminSub(t, b, "edgeagent/"+node+"/status")
		a := NewAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.URL()}, StatusInterval: time.Second,
			Username: node, Password: "pw", NoHomeAssistant: true})
		a.Start(t)
		connected := a.Proc().WaitLine(t, 0, connectedLine, 30*time.Second)
		line := a.Proc().WaitLine(t, connected.N, regexp.MustCompile(`level=ERROR msg="bridge: the broker does not deliver the node's own topics back`), 30*time.Second)
		t.Logf("figure: S7 acl_file silent denial reported %v after connecting", line.At.Sub(connected.At).Round(time.Millisecond))
		t.Logf("what the operator sees in the log: %s", line.Text)
		st, _ := waitStatus(t, watch, `status with "echo":"missing"`, 20*time.Second, func(s bStatus) bool { return s.MQTT.Echo != "" })
		js, _ := json.Marshal(st.MQTT)
		t.Logf("what the operator sees in the status: %s", js)
		if st.MQTT.Echo != "missing" || len(st.MQTT.Refused) != 0 {
			t.Errorf("status: echo %q, refused %v; want missing and none refused (acl_file grants)", st.MQTT.Echo, st.MQTT.Refused)
		}
	})

	t.Run("reply_to aimed at another node's topics publishes nothing there", func(t *testing.T) {
		t.Parallel()
		const node, other = "s7-rpc", "s7-other"
		// A broker that lets anyone publish anywhere: only the node stands
		// between a request and another node's topics.
		b := env.Start(t, mosquitto.Config{Name: "s7-replyto"})
		StartAgent(t, AgentConfig{NodeID: node, Brokers: []string{b.URL()}})
		watch := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
		victim := watch.Subscribe(t, "edgeagent/"+other+"/#", 1)
		res := watch.Subscribe(t, "edgeagent/"+node+"/res/ping", 1)
		caller := clients.Connect(t, clients.PahoOptions{URL: b.URL()})
		targets := []string{"edgeagent/" + other + "/lamp/set", "edgeagent/" + other + "/req/ping",
			"edgeagent/" + other + "/lamp/state", "edgeagent/" + other + "/availability"}
		for i, target := range targets {
			caller.Publish(t, "edgeagent/"+node+"/req/ping", 1, false, fmt.Appendf(nil, `{"id":%d,"reply_to":%q}`, i, target))
		}
		// The node publishes its replies in order, at QoS 1, to one
		// subscriber: once the error replies are in, anything it had
		// published on the victim's topics would be in too.
		got := res.WaitCount(t, len(targets), 20*time.Second)
		for _, m := range got {
			if r := parseReply(t, m); r.Error == "" {
				t.Errorf("reply %s: no error for a reply_to outside the reply namespace", m.Payload)
			}
		}
		t.Logf("what the caller sees: %s", got[0].Payload)
		if n := victim.Len(); n != 0 {
			t.Errorf("the node published %d messages on another node's topics: %v", n, victim.Messages())
		}
	})
}

// pemBody is the base64 text of a PEM block, to look for in logs.
func pemBody(p []byte) string {
	var lines []string
	for _, l := range strings.Split(string(p), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	body := strings.Join(lines, "")
	return body[len(body)/2:][:min(32, len(body)/2)]
}
