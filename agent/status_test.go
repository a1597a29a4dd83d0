package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/bridge"
)

// The status shows what an operator needs when the broker's ACL gets in
// the way: the echo check's result and every refused subscription, once
// per filter however many bindings share it.
func TestMQTTStatusReportsRefusedAndEcho(t *testing.T) {
	bs := bridge.Stats{Connected: true, Connects: 2, Echo: "missing", Bindings: []bridge.BindingStats{
		{Binding: "edgeagent/n1/+/set", Kind: "queue", State: "subscribed"},
		{Binding: "homeassistant/status", Kind: "func", State: "refused", Refusals: 3},
		{Binding: "homeassistant/status", Kind: "queue", State: "refused", Refusals: 3},
		{Binding: "edgeagent/n1/req/+", Kind: "func", State: "pending"},
	}}
	s := mqttStatus(bs)
	if s.Echo != "missing" || s.Connects != 2 {
		t.Errorf("echo %q, connects %d; want missing, 2", s.Echo, s.Connects)
	}
	if len(s.Refused) != 1 || s.Refused[0] != (RefusedSubscription{Filter: "homeassistant/status", Refusals: 3}) {
		t.Errorf("refused = %+v, want homeassistant/status once with 3 refusals", s.Refused)
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"echo":"missing"`, `"refused":[{"filter":"homeassistant/status","refusals":3}]`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("status JSON %s lacks %s", js, want)
		}
	}

	// All granted and the echo back: nothing to report.
	js, err = json.Marshal(mqttStatus(bridge.Stats{Echo: "ok", Bindings: bs.Bindings[:1]}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "refused") || !strings.Contains(string(js), `"echo":"ok"`) {
		t.Errorf("status JSON with everything granted: %s", js)
	}
}
