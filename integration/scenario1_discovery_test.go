package integration

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/clients"
	"github.com/edgeagent/edgeagent/integration/mosquitto"
)

// Scenario 1 (issue 14): every Home Assistant config the agent announces is
// retained, parses, and points at topics that carry values; Home
// Assistant's birth (mosquitto_pub homeassistant/status online) makes the
// agent announce again.
func TestScenario1Discovery(t *testing.T) {
	t.Parallel()
	b := env.Start(t, mosquitto.Config{})
	a := StartAgent(t, AgentConfig{Brokers: []string{b.URL()}, NodeID: "it-s1", Devices: []string{
		LampDevice,
		ClimateDevice,
		`{name: door, type: contact, pin: GPIO27, simulate: {every: 1s}}`,
		`{name: bell, type: pushbutton, pin: GPIO17, double_click: 0s, long_press: 0s, simulate: {gestures: [single], every: 1s}}`,
		`{name: led, type: led, pin: GPIO18, pwm: true, simulate: true}`,
		`{name: host, type: system, interval: 1s, simulate: true}`,
	}})
	ctl := a.Controller(t)

	// A fresh subscriber receives every retained discovery config.
	configs := ctl.Subscribe(t, "homeassistant/#", 1)
	first := configs.WaitFor(t, "a discovery config", 10*time.Second, func(m clients.Message) bool {
		return strings.HasSuffix(m.Topic, "/config")
	})
	const topic = "homeassistant/device/it-s1/config"
	if first.Topic != topic {
		t.Fatalf("discovery: %v, want a config on %s", first, topic)
	}
	// The announcement may have come after the subscription: read back
	// what the broker retained.
	if kept := a.Retained(t, topic); string(kept.Payload) != string(first.Payload) {
		t.Fatalf("retained discovery config differs from the announced one:\n%s\nvs\n%s", kept.Payload, first.Payload)
	}
	type availability struct {
		Topic     string `json:"topic"`
		Available string `json:"payload_available"`
	}
	type component struct {
		Availability []availability `json:"availability"`
		Platform     string         `json:"platform"`
		UniqueID     string         `json:"unique_id"`
		StateTopic   string         `json:"state_topic"`
		CommandTopic string         `json:"command_topic"`
		ValueTpl     string         `json:"value_template"`
		EventTypes   []string       `json:"event_types"`
		PayloadOn    string         `json:"payload_on"`
	}
	var doc struct {
		Device struct {
			Identifiers []string `json:"identifiers"`
			Name        string   `json:"name"`
		} `json:"device"`
		Origin struct {
			Name string `json:"name"`
		} `json:"origin"`
		Availability []availability       `json:"availability"`
		Components   map[string]component `json:"components"`
	}
	if err := json.Unmarshal(first.Payload, &doc); err != nil {
		t.Fatalf("discovery payload does not parse: %v\n%s", err, first.Payload)
	}
	if len(doc.Device.Identifiers) == 0 || doc.Origin.Name == "" {
		t.Errorf("discovery without device identifiers or origin name (both required by device discovery): %s", first.Payload)
	}
	wantIDs := []string{"bell", "climate_humidity", "climate_temperature", "door", "host_cpu_temperature",
		"host_device_errors", "host_load", "host_memory", "host_outbox", "host_uptime", "lamp", "led"}
	if got := slices.Sorted(maps.Keys(doc.Components)); !slices.Equal(got, wantIDs) {
		t.Errorf("components %v, want %v", got, wantIDs)
	}
	// Every availability topic, the node's and each component's, carries
	// its "available" payload.
	avail := map[string]string{}
	for _, av := range doc.Availability {
		avail[av.Topic] = av.Available
	}
	if _, ok := avail[a.Topic("availability")]; !ok {
		t.Errorf("availability %+v does not name the node's %s", doc.Availability, a.Topic("availability"))
	}
	for _, c := range doc.Components {
		for _, av := range c.Availability {
			avail[av.Topic] = av.Available
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(avail)) {
		if m := a.Retained(t, topic); string(m.Payload) != avail[topic] {
			t.Errorf("availability topic %s carries %v, want %q", topic, m, avail[topic])
		}
	}

	// Every state topic carries a value in the form the config's template
	// reads; every event topic carries events of the announced types.
	unique := map[string]string{}
	states, events, commands := 0, 0, 0
	for _, id := range slices.Sorted(maps.Keys(doc.Components)) {
		c := doc.Components[id]
		if c.Platform == "" || c.UniqueID == "" || c.StateTopic == "" {
			t.Errorf("component %s lacks platform, unique_id or state_topic: %+v", id, c)
			continue
		}
		if other, dup := unique[c.UniqueID]; dup {
			t.Errorf("unique_id %s used by %s and %s", c.UniqueID, other, id)
		}
		unique[c.UniqueID] = id
		if c.Platform == "event" {
			events++
			got := ctl.Subscribe(t, c.StateTopic, 1)
			m := got.WaitFor(t, "an event on "+c.StateTopic, 10*time.Second, func(clients.Message) bool { return true })
			var ev struct {
				Type string `json:"event_type"`
			}
			if err := json.Unmarshal(m.Payload, &ev); err != nil || !slices.Contains(c.EventTypes, ev.Type) || m.Retained {
				t.Errorf("event on %s: %v; want a non-retained JSON event of a type in %v (%v)", c.StateTopic, m, c.EventTypes, err)
			}
			continue
		}
		states++
		m := a.Retained(t, c.StateTopic)
		var v map[string]any
		if err := json.Unmarshal(m.Payload, &v); err != nil {
			t.Errorf("state on %s does not parse: %v: %s", c.StateTopic, err, m.Payload)
			continue
		}
		switch {
		case c.Platform == "light":
			if v["state"] != "ON" && v["state"] != "OFF" {
				t.Errorf("light state on %s: %s", c.StateTopic, m.Payload)
			}
		case c.ValueTpl != "{{ value_json.value }}":
			t.Errorf("component %s: value_template %q", id, c.ValueTpl)
		case v["value"] == nil:
			t.Errorf("state on %s has no value for the template: %s", c.StateTopic, m.Payload)
		case c.PayloadOn != "" && v["value"] != "ON" && v["value"] != "OFF":
			t.Errorf("state on %s: %v, want %s or OFF", c.StateTopic, v["value"], c.PayloadOn)
		}
	}
	// The command topics act: their state follows.
	for id, cmd := range map[string]struct{ payload, want string }{
		"lamp": {"ON", `"value":"ON"`},
		"led":  {`{"state":"ON","brightness":128}`, `"brightness":128`},
	} {
		c := doc.Components[id]
		if c.CommandTopic != a.Topic(id, "set") {
			t.Errorf("component %s: command_topic %q", id, c.CommandTopic)
			continue
		}
		commands++
		got := ctl.Subscribe(t, c.StateTopic, 1)
		ctl.Publish(t, c.CommandTopic, 1, false, []byte(cmd.payload))
		got.WaitFor(t, id+" state after "+cmd.payload, 10*time.Second, func(m clients.Message) bool {
			return strings.Contains(string(m.Payload), cmd.want)
		})
	}
	t.Logf("figure: S1 discovery: %d components (%d states carrying values, %d event entities firing, %d command topics acting), %d availability topics online, %d bytes, retained",
		len(doc.Components), states, events, commands, len(avail), len(first.Payload))

	// Home Assistant's birth, from mosquitto_pub in the broker's container:
	// the config comes again, live (not retained) on a standing subscription.
	live := func(m clients.Message) bool { return m.Topic == topic && !m.Retained }
	before := len(slices.DeleteFunc(configs.Messages(), func(m clients.Message) bool { return !live(m) }))
	birth := time.Now()
	b.Pub(t, "homeassistant/status", []byte("online"))
	msgs, err := configs.Await(10*time.Second, func(ms []clients.Message) bool {
		n := 0
		for _, m := range ms {
			if live(m) {
				n++
			}
		}
		return n > before
	})
	if err != nil {
		t.Fatalf("no discovery config after Home Assistant's birth: %v", err)
	}
	var again clients.Message
	for _, m := range msgs {
		if live(m) {
			again = m
		}
	}
	t.Logf("figure: S1 re-announce %v after homeassistant/status=online (mosquitto_pub in the container included)",
		again.At.Sub(birth).Round(time.Millisecond))
	if string(again.Payload) != string(first.Payload) {
		t.Errorf("re-announced config differs from the retained one:\n%s\nvs\n%s", again.Payload, first.Payload)
	}
	if m := a.Retained(t, topic); string(m.Payload) != string(first.Payload) {
		t.Errorf("retained config after the birth differs: %s", m.Payload)
	}
}
