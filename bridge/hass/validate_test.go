package hass

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fieldErrors flattens what Build returned into its FieldErrors.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// base is a small valid node; cases change one thing.
func base() Node {
	return Node{
		ID:     "n1",
		Device: Device{Identifiers: []string{"n1-id"}, Name: "Node 1"},
		Origin: Origin{Name: "edgeagent"},
		Topics: Layout{Base: "ea"},
	}
}

func with(entities ...Entity) func(*Node) {
	return func(n *Node) { n.Entities = entities }
}

func sensor(dc, unit, sc string) Sensor {
	return Sensor{Common: Common{ID: "s", Name: Name("S")}, DeviceClass: dc, Unit: unit, StateClass: sc}
}

func common(id string) Common { return Common{ID: id, Name: Name(id)} }

type nodeNoTopics struct{}

func (nodeNoTopics) Availability(string) string    { return "" }
func (nodeNoTopics) State(string, string) string   { return "" }
func (nodeNoTopics) Command(string, string) string { return "" }
func (nodeNoTopics) Event(string, string) string   { return "" }

func TestValidation(t *testing.T) {
	light := func(modes ...string) Light { return Light{Common: common("l"), ColorModes: modes} }
	cases := []struct {
		name   string
		change func(*Node)
		entity string // "" with key "" means: valid
		key    string
	}{
		// device_class valid for the platform
		{"sensor class ok", with(sensor("temperature", "°C", "")), "", ""},
		{"sensor class unknown", with(sensor("temp", "°C", "")), "s", "device_class"},
		{"binary_sensor class ok", with(BinarySensor{Common: common("b"), DeviceClass: "door"}), "", ""},
		{"binary_sensor class unknown", with(BinarySensor{Common: common("b"), DeviceClass: "contact"}), "b", "device_class"},
		{"binary_sensor sensor-only class", with(BinarySensor{Common: common("b"), DeviceClass: "temperature"}), "b", "device_class"},
		{"event class ok", with(Event{Common: common("e"), DeviceClass: "doorbell", EventTypes: []string{"press"}}), "", ""},
		{"event class unknown", with(Event{Common: common("e"), DeviceClass: "press", EventTypes: []string{"press"}}), "e", "device_class"},
		{"button class ok", with(Button{Common: common("r"), DeviceClass: "identify"}), "", ""},
		{"button class unknown", with(Button{Common: common("r"), DeviceClass: "reboot"}), "r", "device_class"},
		{"switch class ok", with(Switch{Common: common("w"), DeviceClass: "switch"}), "", ""},
		{"switch class unknown", with(Switch{Common: common("w"), DeviceClass: "relay"}), "w", "device_class"},

		// unit allowed for the sensor device_class
		{"temperature °F", with(sensor("temperature", "°F", "")), "", ""},
		{"temperature C", with(sensor("temperature", "C", "")), "s", "unit_of_measurement"},
		{"temperature no unit", with(sensor("temperature", "", "")), "s", "unit_of_measurement"},
		{"illuminance lx", with(sensor("illuminance", "lx", "")), "", ""},
		{"illuminance lux", with(sensor("illuminance", "lux", "")), "s", "unit_of_measurement"},
		{"signal dBm", with(sensor("signal_strength", "dBm", "")), "", ""},
		{"signal percent", with(sensor("signal_strength", "%", "")), "s", "unit_of_measurement"},
		{"humidity percent", with(sensor("humidity", "%", "measurement")), "", ""},
		{"aqi unitless", with(sensor("aqi", "", "measurement")), "", ""},
		{"aqi with unit", with(sensor("aqi", "%", "")), "s", "unit_of_measurement"},
		{"power_factor unitless", with(sensor("power_factor", "", "")), "", ""},
		{"voltage micro sign", with(sensor("voltage", "\u00b5V", "")), "", ""},
		{"voltage greek mu", with(sensor("voltage", "\u03bcV", "")), "", ""},
		{"voltage mv lowercase", with(sensor("voltage", "mv", "")), "s", "unit_of_measurement"},
		{"duration micro sign", with(sensor("duration", "\u00b5s", "")), "", ""},
		{"co2 ppm", with(sensor("carbon_dioxide", "ppm", "measurement")), "", ""},
		{"pm25 µg/m³", with(sensor("pm25", "\u00b5g/m³", "measurement")), "", ""},
		{"pressure hPa", with(sensor("pressure", "hPa", "measurement")), "", ""},
		{"monetary any code", with(sensor("monetary", "EUR", "total")), "", ""},
		{"generic custom unit", with(sensor("", "widgets", "measurement")), "", ""},
		{"blank unit", with(sensor("", "  ", "")), "s", "unit_of_measurement"},
		{"timestamp with unit", with(sensor("timestamp", "s", "")), "s", "unit_of_measurement"},

		// state_class valid and consistent
		{"temperature measurement", with(sensor("temperature", "°C", "measurement")), "", ""},
		{"temperature total_increasing", with(sensor("temperature", "°C", "total_increasing")), "s", "state_class"},
		{"energy total_increasing", with(sensor("energy", "kWh", "total_increasing")), "", ""},
		{"energy measurement", with(sensor("energy", "kWh", "measurement")), "s", "state_class"},
		{"unknown state class", with(sensor("", "", "sum")), "s", "state_class"},
		{"timestamp measurement", with(sensor("timestamp", "", "measurement")), "s", "state_class"},
		{"wind direction angle", with(sensor("wind_direction", "°", "measurement_angle")), "", ""},
		{"wind direction measurement", with(sensor("wind_direction", "°", "measurement")), "s", "state_class"},
		{"angle needs degrees", with(sensor("", "deg", "measurement_angle")), "s", "unit_of_measurement"},
		{"generic total", with(sensor("", "", "total")), "", ""},

		// options only with enum
		{"enum options", with(Sensor{Common: common("s"), DeviceClass: "enum", Options: []string{"idle", "busy"}}), "", ""},
		{"options without enum", with(Sensor{Common: common("s"), Options: []string{"idle"}}), "s", "options"},
		{"options with temperature", with(Sensor{Common: common("s"), DeviceClass: "temperature", Unit: "°C", Options: []string{"a"}}), "s", "options"},
		{"enum without options", with(Sensor{Common: common("s"), DeviceClass: "enum"}), "s", "options"},
		{"enum empty options", with(Sensor{Common: common("s"), DeviceClass: "enum", Options: []string{}}), "s", "options"},
		{"enum duplicate options", with(Sensor{Common: common("s"), DeviceClass: "enum", Options: []string{"a", "a"}}), "s", "options[1]"},
		{"enum with unit", with(Sensor{Common: common("s"), DeviceClass: "enum", Unit: "x", Options: []string{"a"}}), "s", "unit_of_measurement"},
		{"enum with state class", with(Sensor{Common: common("s"), DeviceClass: "enum", StateClass: "measurement", Options: []string{"a"}}), "s", "state_class"},

		// other sensor options
		{"precision 0", with(Sensor{Common: common("s"), SuggestedDisplayPrecision: Precision(0)}), "", ""},
		{"precision negative", with(Sensor{Common: common("s"), SuggestedDisplayPrecision: Precision(-1)}), "s", "suggested_display_precision"},
		{"precision on timestamp", with(Sensor{Common: common("s"), DeviceClass: "timestamp", SuggestedDisplayPrecision: Precision(1)}), "s", "suggested_display_precision"},
		{"expire whole seconds", with(Sensor{Common: common("s"), ExpireAfter: 90 * time.Second}), "", ""},
		{"expire fraction", with(Sensor{Common: common("s"), ExpireAfter: 1500 * time.Millisecond}), "s", "expire_after"},
		{"expire negative", with(Sensor{Common: common("s"), ExpireAfter: -time.Second}), "s", "expire_after"},
		{"blank value template", with(Sensor{Common: common("s"), ValueTemplate: " "}), "s", "value_template"},

		// event types
		{"event types", with(Event{Common: common("e"), EventTypes: []string{"press", "double", "long"}}), "", ""},
		{"event types empty", with(Event{Common: common("e")}), "e", "event_types"},
		{"event types duplicate", with(Event{Common: common("e"), EventTypes: []string{"press", "press"}}), "e", "event_types[1]"},
		{"event type blank", with(Event{Common: common("e"), EventTypes: []string{""}}), "e", "event_types[0]"},

		// light color modes
		{"light default onoff", with(Light{Common: common("l")}), "", ""},
		{"light brightness", with(light("brightness")), "", ""},
		{"light rgb white", with(light("rgb", "white")), "", ""},
		{"light onoff with brightness", with(light("onoff", "brightness")), "l", "supported_color_modes"},
		{"light brightness with rgb", with(light("brightness", "rgb")), "l", "supported_color_modes"},
		{"light white alone", with(light("white")), "l", "supported_color_modes"},
		{"light unknown mode", with(light("sparkle")), "l", "supported_color_modes"},
		{"light empty modes", with(Light{Common: common("l"), ColorModes: []string{}}), "l", "supported_color_modes"},
		{"light duplicate mode", with(light("hs", "hs")), "l", "supported_color_modes"},
		{"light scale", with(Light{Common: common("l"), ColorModes: []string{"brightness"}, BrightnessScale: 100}), "", ""},
		{"light scale with onoff", with(Light{Common: common("l"), BrightnessScale: 100}), "l", "brightness_scale"},
		{"light negative scale", with(Light{Common: common("l"), ColorModes: []string{"brightness"}, BrightnessScale: -1}), "l", "brightness_scale"},

		// payloads
		{"switch custom payloads", with(Switch{Common: common("w"), PayloadOn: "1", PayloadOff: "0"}), "", ""},
		{"switch same payloads", with(Switch{Common: common("w"), PayloadOn: "X", PayloadOff: "X"}), "w", "payload_off"},
		{"binary same payloads", with(BinarySensor{Common: common("b"), PayloadOn: "OFF"}), "b", "payload_off"},
		{"binary off delay fraction", with(BinarySensor{Common: common("b"), OffDelay: time.Millisecond}), "b", "off_delay"},
		{"button blank press", with(Button{Common: common("r"), PayloadPress: " "}), "r", "payload_press"},

		// unique ids and entity ids
		{"duplicate entity", with(Sensor{Common: common("x")}, Switch{Common: common("x")}), "x", "unique_id"},
		{"entity id with slash", with(Sensor{Common: common("a/b")}), "a/b", "id"},
		{"entity id empty", with(Sensor{Common: Common{Name: Name("s")}}), "", "id"},
		{"nil entity", with(nil), "", "Entities[0]"},
		{"no entities", func(n *Node) { n.Entities = nil }, "", "Entities"},

		// topics: none empty, no wildcards
		{"no topic source", func(n *Node) { n.Topics = nil; n.Entities = []Entity{Sensor{Common: common("s")}} }, "", "availability_topic"},
		{"no state topic", func(n *Node) {
			n.Topics = nil
			n.AvailabilityTopic = "ea/n1/availability"
			n.Entities = []Entity{Sensor{Common: common("s")}}
		}, "s", "state_topic"},
		{"explicit topics", func(n *Node) {
			n.Topics = nil
			n.AvailabilityTopic = "ea/n1/availability"
			n.Entities = []Entity{Switch{Common: common("w"), StateTopic: "x/state", CommandTopic: "x/cmd"}}
		}, "", ""},
		{"layout returns empty", func(n *Node) {
			n.Topics = nodeNoTopics{}
			n.AvailabilityTopic = "ea/n1/availability"
			n.Entities = []Entity{Button{Common: common("r")}}
		}, "r", "command_topic"},
		{"state wildcard plus", with(Sensor{Common: common("s"), StateTopic: "ea/+/s"}), "s", "state_topic"},
		{"command wildcard hash", with(Switch{Common: common("w"), CommandTopic: "ea/#"}), "w", "command_topic"},
		{"event topic wildcard", with(Event{Common: common("e"), EventTypes: []string{"press"}, StateTopic: "ea/e/+"}), "e", "state_topic"},
		{"availability wildcard", func(n *Node) { n.AvailabilityTopic = "ea/#" }, "", "availability_topic"},
		{"switch state is command", with(Switch{Common: common("w"), StateTopic: "t", CommandTopic: "t"}), "w", "state_topic"},
		{"light state is command", with(Light{Common: common("l"), StateTopic: "t", CommandTopic: "t"}), "l", "state_topic"},
		{"prefix custom", func(n *Node) { n.Prefix = "ha/discovery" }, "", ""},
		{"prefix wildcard", func(n *Node) { n.Prefix = "ha/#" }, "", "Prefix"},
		{"prefix trailing slash", func(n *Node) { n.Prefix = "homeassistant/" }, "", "Prefix"},
		{"node id with space", func(n *Node) { n.ID = "kitchen node" }, "", "ID"},

		// device and origin
		{"device no identifiers", func(n *Node) { n.Device.Identifiers = nil }, "", "device.identifiers"},
		{"device blank identifier", func(n *Node) { n.Device.Identifiers = []string{""} }, "", "device.identifiers[0]"},
		{"device duplicate identifier", func(n *Node) { n.Device.Identifiers = []string{"a", "a"} }, "", "device.identifiers[1]"},
		{"device no name", func(n *Node) { n.Device.Name = "" }, "", "device.name"},
		{"device url ok", func(n *Node) { n.Device.ConfigurationURL = "http://192.0.2.7:8080/" }, "", ""},
		{"device url homeassistant", func(n *Node) { n.Device.ConfigurationURL = "homeassistant://config/mqtt" }, "", ""},
		{"device url ftp", func(n *Node) { n.Device.ConfigurationURL = "ftp://example.com" }, "", "device.configuration_url"},
		{"device url no host", func(n *Node) { n.Device.ConfigurationURL = "http:///x" }, "", "device.configuration_url"},
		{"device blank model", func(n *Node) { n.Device.Model = " " }, "", "device.model"},
		{"origin no name", func(n *Node) { n.Origin.Name = "" }, "", "origin.name"},
		{"origin bad url", func(n *Node) { n.Origin.SupportURL = "github.com/x" }, "", "origin.support_url"},

		// common options
		{"icon ok", with(Sensor{Common: Common{ID: "s", Icon: "mdi:chip"}}), "", ""},
		{"icon no prefix", with(Sensor{Common: Common{ID: "s", Icon: "chip"}}), "s", "icon"},
		{"category unknown", with(Sensor{Common: Common{ID: "s", EntityCategory: "system"}}), "s", "entity_category"},
		{"category config on sensor", with(Sensor{Common: Common{ID: "s", EntityCategory: CategoryConfig}}), "s", "entity_category"},
		{"category config on binary_sensor", with(BinarySensor{Common: Common{ID: "b", EntityCategory: CategoryConfig}}), "b", "entity_category"},
		{"category config on switch", with(Switch{Common: Common{ID: "w", EntityCategory: CategoryConfig}}), "", ""},
		{"qos 2", with(Sensor{Common: Common{ID: "s", QoS: 2}}), "", ""},
		{"qos 3", with(Sensor{Common: Common{ID: "s", QoS: 3}}), "s", "qos"},
		{"name empty", with(Sensor{Common: Common{ID: "s", Name: Name("")}}), "s", "name"},
		{"default entity id ok", with(Sensor{Common: Common{ID: "s", DefaultEntityID: "sensor.kitchen_temp"}}), "", ""},
		{"default entity id wrong domain", with(Sensor{Common: Common{ID: "s", DefaultEntityID: "switch.kitchen_temp"}}), "s", "default_entity_id"},
		{"default entity id no domain", with(Sensor{Common: Common{ID: "s", DefaultEntityID: "kitchen_temp"}}), "s", "default_entity_id"},
		{"default entity id uppercase", with(Sensor{Common: Common{ID: "s", DefaultEntityID: "sensor.Kitchen"}}), "s", "default_entity_id"},
		{"default entity id double underscore", with(Sensor{Common: Common{ID: "s", DefaultEntityID: "sensor.a__b"}}), "s", "default_entity_id"},
		{"derived entity id unusable", func(n *Node) { n.ID = "-"; n.Entities = []Entity{Sensor{Common: Common{ID: "_"}}} }, "_", "default_entity_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := base()
			n.Entities = []Entity{Sensor{Common: common("base")}}
			tc.change(&n)
			cfg, err := n.Build()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if cfg == nil || len(cfg.Payload()) == 0 {
					t.Fatal("valid node gave no payload")
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error on entity %q key %q, got none; payload %s", tc.entity, tc.key, cfg.Payload())
			}
			if cfg != nil {
				t.Error("an invalid node still gave a Config")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			found := false
			for _, fe := range fieldErrors(err) {
				if fe.Entity == tc.entity && fe.Key == tc.key {
					found = true
					msg := fe.Error()
					if !strings.Contains(msg, tc.key) || (tc.entity != "" && !strings.Contains(msg, tc.entity)) {
						t.Errorf("message %q does not name entity %q and key %q", msg, tc.entity, tc.key)
					}
				}
			}
			if !found {
				t.Errorf("no error for entity %q key %q; got: %v", tc.entity, tc.key, err)
			}
		})
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	n := base()
	n.Device.Name = ""
	n.Entities = []Entity{sensor("temperature", "lux", "total"), Event{Common: common("e")}}
	_, err := n.Build()
	got := map[string]bool{}
	for _, fe := range fieldErrors(err) {
		got[fe.Entity+"/"+fe.Key] = true
	}
	for _, want := range []string{"/device.name", "s/unit_of_measurement", "s/state_class", "e/event_types"} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestMicroSignIsNormalized(t *testing.T) {
	n := base()
	n.Entities = []Entity{sensor("voltage", "\u00b5V", "measurement")}
	c := mustBuild(t, n)
	if p := string(c.Payload()); !strings.Contains(p, "\"\u03bcV\"") || strings.Contains(p, "\u00b5") {
		t.Errorf("payload keeps the micro sign: %s", p)
	}
}

func TestUniqueIDAndSlug(t *testing.T) {
	if got := UniqueID("kitchen", "wifi-rssi"); got != "kitchen.wifi-rssi" {
		t.Errorf("UniqueID = %q", got)
	}
	// Pairs that would collide with an "_" separator stay distinct.
	if UniqueID("a_b", "c") == UniqueID("a", "b_c") {
		t.Error("unique ids collide")
	}
	for in, want := range map[string]string{"Kitchen-Node_1": "kitchen_node_1", "a--b": "a_b", "-x-": "x", "__": ""} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEventPayload(t *testing.T) {
	e := Event{Common: common("button"), EventTypes: []string{"press", "long"}}
	got, err := e.Payload("long", map[string]any{"duration_ms": 1200, "count": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"event_type":"long","count":1,"duration_ms":1200}`; string(got) != want {
		t.Errorf("payload %s, want %s", got, want)
	}
	if got, _ := e.Payload("press", nil); string(got) != `{"event_type":"press"}` {
		t.Errorf("payload %s", got)
	}
	if _, err := e.Payload("double", nil); err == nil {
		t.Error("an undeclared event type was accepted")
	}
	if _, err := e.Payload("press", map[string]any{"event_type": "x"}); err == nil {
		t.Error("attrs overriding event_type were accepted")
	}
	if _, err := e.Payload("press", map[string]any{"bad": func() {}}); err == nil {
		t.Error("an unencodable attribute was accepted")
	}
}

func TestDeviceTopicAndDelete(t *testing.T) {
	m, err := DeleteDevice("", "kitchen")
	if err != nil || m.Topic != "homeassistant/device/kitchen/config" || len(m.Payload) != 0 || !m.Retain || m.Payload == nil {
		t.Errorf("DeleteDevice = %+v, %v", m, err)
	}
	if _, err := DeleteDevice("ha", "bad id"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad node id: %v", err)
	}
	if _, err := DeviceTopic("ha/+", "kitchen"); !errors.Is(err, ErrInvalid) {
		t.Errorf("wildcard prefix: %v", err)
	}
	n := base()
	n.Prefix = "custom"
	n.Entities = []Entity{Sensor{Common: common("s")}}
	c := mustBuild(t, n)
	if c.Topic() != "custom/device/n1/config" || c.Delete().Topic != c.Topic() {
		t.Errorf("custom prefix topic %q", c.Topic())
	}
}

func TestConfigIsImmutable(t *testing.T) {
	c := mustBuild(t, fullNode())
	p := c.Payload()
	p[0] = 'X'
	c.Components()["temperature"] = "light"
	c.Bindings()[0].StateTopic = "x"
	if c.Payload()[0] != '{' || c.Components()["temperature"] != "sensor" || c.Bindings()[0].StateTopic == "x" {
		t.Error("a caller changed the Config through a returned value")
	}
}
