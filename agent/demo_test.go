package agent

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/edgeagent/edgeagent/agent/config"
)

// The demo's configuration parses, simulates every device, and shows every
// device type.
func TestDemoConfig(t *testing.T) {
	cfg, err := config.Parse("demo.yaml", DemoConfig("tcp://127.0.0.1:1883", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[config.Type]bool{}
	for _, d := range cfg.Devices {
		if !d.Spec.Simulated() {
			t.Errorf("device %s is not simulated", d.Name)
		}
		seen[d.Type] = true
		if _, err := newDevice(d, nil); err != nil {
			t.Errorf("device %s: %v", d.Name, err)
		}
	}
	for _, typ := range config.Types() {
		// One of each pair that shares an implementation is enough.
		if !seen[typ] && typ != config.TypeSwitch && typ != config.TypeOutput {
			t.Errorf("the demo has no %s", typ)
		}
	}
	if _, err := Discovery(cfg, "test"); err != nil {
		t.Fatal(err)
	}
}

// Every entity of the demo's discovery payload is available only while the
// node and its own device are (availability_mode all over both topics), so
// a failing device shows unavailable in Home Assistant while the node stays
// online; and the LED announces the effects it offers.
func TestDiscoveryPromises(t *testing.T) {
	cfg, err := config.Parse("demo.yaml", DemoConfig("tcp://127.0.0.1:1883", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Discovery(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		Availability []map[string]string `json:"availability"`
		Components   map[string]map[string]any
	}
	if err := json.Unmarshal(c.Payload(), &root); err != nil {
		t.Fatal(err)
	}
	node := "edgeagent/demo/availability"
	if len(root.Availability) != 1 || root.Availability[0]["topic"] != node {
		t.Errorf("root availability %v, want the node's %s", root.Availability, node)
	}
	deviceOf := map[string]string{}
	for _, d := range cfg.Devices {
		for _, v := range d.Values {
			deviceOf[v.Entity] = d.Name
		}
	}
	if len(root.Components) != len(deviceOf) {
		t.Errorf("%d components for %d values", len(root.Components), len(deviceOf))
	}
	sawLED := false
	for id, comp := range root.Components {
		dev, ok := deviceOf[id]
		if !ok {
			t.Errorf("component %s is no device's value", id)
			continue
		}
		want := []string{node, "edgeagent/demo/" + dev + "/availability"}
		var got []string
		list, _ := comp["availability"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			if m["payload_available"] != "online" || m["payload_not_available"] != "offline" {
				t.Errorf("%s: availability entry %v lacks the online/offline payloads", id, m)
			}
			got = append(got, fmt.Sprint(m["topic"]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: availability topics %v, want %v", id, got, want)
		}
		if comp["availability_mode"] != "all" {
			t.Errorf("%s: availability_mode %v, want all", id, comp["availability_mode"])
		}
		if _, ok := comp["availability_topic"]; ok {
			t.Errorf("%s: availability_topic beside availability is refused by Home Assistant", id)
		}
		if comp["platform"] == "light" {
			sawLED = true
			d, _ := cfg.Device(dev)
			effects := d.Spec.(*config.LED).Effects()
			if len(effects) == 0 {
				t.Fatalf("the demo's LED %s offers no effect", dev)
			}
			if comp["effect"] != true || fmt.Sprint(comp["effect_list"]) != fmt.Sprint(effects) {
				t.Errorf("%s: effect %v effect_list %v, want true %v", id, comp["effect"], comp["effect_list"], effects)
			}
		}
	}
	if !sawLED {
		t.Error("the demo announces no light")
	}
}
