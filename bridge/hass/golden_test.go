package hass

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fullNode has one entity of every kind, with most options set.
func fullNode() Node {
	return Node{
		ID: "kitchen",
		Device: Device{
			Identifiers:   []string{"edgeagent-kitchen"},
			Name:          "Kitchen node",
			Manufacturer:  "edgeagent",
			Model:         "Raspberry Pi 4",
			ModelID:       "rpi4b",
			SWVersion:     "1.2.3",
			HWVersion:     "rev 1.4",
			SerialNumber:  "10000000abcdef01",
			SuggestedArea: "Kitchen",
		},
		Origin: Origin{
			Name:       "edgeagent",
			SWVersion:  "1.2.3",
			SupportURL: "https://github.com/edgeagent/edgeagent",
		},
		Topics: Layout{Base: "edgeagent"},
		Entities: []Entity{
			Sensor{
				Common:                    Common{ID: "temperature", Name: Name("Temperature")},
				DeviceClass:               "temperature",
				Unit:                      "°C",
				StateClass:                StateClassMeasurement,
				SuggestedDisplayPrecision: Precision(1),
				ExpireAfter:               10 * time.Minute,
				ValueTemplate:             "{{ value_json.temperature }}",
			},
			Sensor{
				Common:      Common{ID: "illuminance", Name: Name("Light level")},
				DeviceClass: "illuminance",
				Unit:        "lx",
				StateClass:  StateClassMeasurement,
			},
			Sensor{
				Common: Common{ID: "wifi-rssi", Name: Name("Wi-Fi signal"), EntityCategory: CategoryDiagnostic,
					DisabledByDefault: true, Icon: "mdi:wifi"},
				DeviceClass: "signal_strength",
				Unit:        "dBm",
				StateClass:  StateClassMeasurement,
			},
			BinarySensor{
				Common:      Common{ID: "door", Name: Name("Door")},
				DeviceClass: "door",
			},
			Event{
				Common:      Common{ID: "button", Name: Name("Button")},
				DeviceClass: "button",
				EventTypes:  []string{"press", "double", "long"},
			},
			Button{
				Common:      Common{ID: "restart", Name: Name("Restart"), EntityCategory: CategoryConfig},
				DeviceClass: "restart",
			},
			Switch{
				Common: Common{ID: "relay", Name: Name("Relay"), QoS: 1,
					AvailabilityTopics: []string{"edgeagent/kitchen/relay/availability"}},
				DeviceClass: "outlet",
			},
			Light{
				Common:     Common{ID: "led"}, // nil name: the node's main feature
				ColorModes: []string{ColorModeBrightness},
				Effects:    []string{"blink", "heartbeat"},
			},
		},
	}
}

// goldenText renders messages in a reviewable, byte-exact form: the exact
// payload, then an indented copy for humans.
func goldenText(msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "# message %d\ntopic: %s\nretain: %v\npayload (%d bytes):\n%s\n", i+1, m.Topic, m.Retain, len(m.Payload), m.Payload)
		if len(m.Payload) > 0 {
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, m.Payload, "", "  "); err != nil {
				fmt.Fprintf(&b, "invalid JSON: %v\n", err)
			} else {
				fmt.Fprintf(&b, "indented:\n%s\n", pretty.String())
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

func mustBuild(t testing.TB, n Node) *Config {
	t.Helper()
	c, err := n.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return c
}

func TestGoldenFullNode(t *testing.T) {
	c := mustBuild(t, fullNode())
	checkGolden(t, "full_node.golden", goldenText([]Message{c.Announce()}))
}

func TestGoldenRemoval(t *testing.T) {
	c := mustBuild(t, fullNode())
	// Before: a humidity sensor and a PIR that are gone now, and "led" that
	// was a switch and is a light now.
	prev := Components{
		"temperature": PlatformSensor,
		"humidity":    PlatformSensor,
		"pir":         PlatformBinarySensor,
		"led":         PlatformSwitch,
		"relay":       PlatformSwitch,
	}
	msgs, err := c.Update(prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("Update gave %d messages, want 2", len(msgs))
	}
	checkGolden(t, "removal.golden", goldenText(append(msgs, c.Delete())))
}

func TestBuildIsDeterministic(t *testing.T) {
	first := mustBuild(t, fullNode()).Payload()
	for i := 0; i < 50; i++ { // map iteration order differs between runs
		if got := mustBuild(t, fullNode()).Payload(); !bytes.Equal(got, first) {
			t.Fatalf("build %d differs:\n%s\n%s", i, got, first)
		}
	}
}

func TestPayloadShape(t *testing.T) {
	c := mustBuild(t, fullNode())
	var root map[string]any
	if err := json.Unmarshal(c.Payload(), &root); err != nil {
		t.Fatal(err)
	}
	// Device-based discovery is strict about root keys: only these.
	allowed := map[string]bool{"device": true, "origin": true, "components": true, "availability": true}
	for k := range root {
		if !allowed[k] {
			t.Errorf("unexpected root key %q", k)
		}
	}
	// The node's availability, in the list form every component inherits.
	checkAvailability(t, "root", root, "edgeagent/kitchen/availability")
	if _, ok := root["availability_mode"]; ok {
		t.Error("root sets availability_mode; with one topic it means nothing")
	}
	dev := root["device"].(map[string]any)
	deviceKeys := map[string]bool{"identifiers": true, "name": true, "manufacturer": true, "model": true,
		"model_id": true, "sw_version": true, "hw_version": true, "serial_number": true,
		"suggested_area": true, "configuration_url": true, "via_device": true}
	for k, v := range dev {
		if !deviceKeys[k] {
			t.Errorf("device block has key %q Home Assistant does not accept", k)
		}
		if v == nil {
			t.Errorf("device block has null %q", k)
		}
	}
	comps := root["components"].(map[string]any)
	if len(comps) != len(fullNode().Entities) {
		t.Fatalf("%d components, want %d", len(comps), len(fullNode().Entities))
	}
	for id, raw := range comps {
		comp := raw.(map[string]any)
		if comp["platform"] == "" || comp["unique_id"] == "" {
			t.Errorf("component %q lacks platform or unique_id: %v", id, comp)
		}
		if _, ok := comp["object_id"]; ok {
			t.Errorf("component %q uses the deprecated object_id", id)
		}
	}
	led := comps["led"].(map[string]any)
	if got := led["name"]; got != nil {
		t.Errorf("led name = %v, want null", got)
	}
	// Effects need the flag and the list.
	if led["effect"] != true || fmt.Sprint(led["effect_list"]) != "[blink heartbeat]" {
		t.Errorf("led effect = %v, effect_list = %v; want true, [blink heartbeat]", led["effect"], led["effect_list"])
	}
	for id, raw := range comps {
		comp := raw.(map[string]any)
		if _, ok := comp["availability_topic"]; ok {
			t.Errorf("component %q sets availability_topic: Home Assistant refuses it beside the inherited availability", id)
		}
		if id == "relay" {
			continue
		}
		if _, ok := comp["availability"]; ok {
			t.Errorf("component %q sets availability of its own; it has no topic of its own", id)
		}
	}
	// The relay: unavailable while its device fails, whatever the node.
	relay := comps["relay"].(map[string]any)
	checkAvailability(t, "relay", relay, "edgeagent/kitchen/availability", "edgeagent/kitchen/relay/availability")
	if relay["availability_mode"] != "all" {
		t.Errorf("relay availability_mode = %v, want all", relay["availability_mode"])
	}
	if c.Topic() != "homeassistant/device/kitchen/config" || !c.Announce().Retain {
		t.Errorf("announce topic %q retain %v", c.Topic(), c.Announce().Retain)
	}
}

// checkAvailability checks that obj's availability list has exactly
// topics, in order, each with the payloads the agent publishes.
func checkAvailability(t *testing.T, what string, obj map[string]any, topics ...string) {
	t.Helper()
	list, ok := obj["availability"].([]any)
	if !ok || len(list) != len(topics) {
		t.Errorf("%s: availability = %v, want %d entries for %v", what, obj["availability"], len(topics), topics)
		return
	}
	for i, e := range list {
		m := e.(map[string]any)
		if m["topic"] != topics[i] || m["payload_available"] != PayloadAvailable || m["payload_not_available"] != PayloadNotAvailable {
			t.Errorf("%s: availability[%d] = %v, want topic %q with online/offline", what, i, m, topics[i])
		}
	}
}

func TestAvailabilityTopicsChecked(t *testing.T) {
	n := fullNode()
	n.Entities = []Entity{Switch{Common: Common{ID: "relay", AvailabilityTopics: []string{"a/+/b", "edgeagent/kitchen/availability"}}}}
	_, err := n.Build()
	for _, want := range []string{"availability[1]", "availability[2]", "listed twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build: %v; want an error naming %s", err, want)
		}
	}
}

func TestBindings(t *testing.T) {
	c := mustBuild(t, fullNode())
	want := map[string]Binding{
		"temperature": {Entity: "temperature", Platform: "sensor", UniqueID: "kitchen.temperature",
			StateTopic: "edgeagent/kitchen/temperature/state", RetainState: false},
		"illuminance": {Entity: "illuminance", Platform: "sensor", UniqueID: "kitchen.illuminance",
			StateTopic: "edgeagent/kitchen/illuminance/state", RetainState: true},
		"button": {Entity: "button", Platform: "event", UniqueID: "kitchen.button",
			StateTopic: "edgeagent/kitchen/button/event", RetainState: false},
		"restart": {Entity: "restart", Platform: "button", UniqueID: "kitchen.restart",
			CommandTopic: "edgeagent/kitchen/restart/set"},
		"relay": {Entity: "relay", Platform: "switch", UniqueID: "kitchen.relay",
			StateTopic: "edgeagent/kitchen/relay/state", CommandTopic: "edgeagent/kitchen/relay/set", RetainState: true},
		"led": {Entity: "led", Platform: "light", UniqueID: "kitchen.led",
			StateTopic: "edgeagent/kitchen/led/state", CommandTopic: "edgeagent/kitchen/led/set", RetainState: true},
	}
	for id, w := range want {
		got, ok := c.Binding(id)
		if !ok || got != w {
			t.Errorf("Binding(%q) = %+v, %v; want %+v", id, got, ok, w)
		}
	}
	if _, ok := c.Binding("nope"); ok {
		t.Error("Binding of an unknown entity reported ok")
	}
	if n := len(c.Bindings()); n != len(fullNode().Entities) {
		t.Errorf("%d bindings, want %d", n, len(fullNode().Entities))
	}
}
