package hass_test

import (
	"fmt"

	"github.com/edgeagent/edgeagent/bridge/hass"
)

// A node with a temperature sensor, a pushbutton and a relay, announced as
// one Home Assistant device. The bridge publishes every Message it gets, and
// uses the Bindings to know where states go and which may be retained.
func ExampleNode_Build() {
	node := hass.Node{
		ID:     "porch",
		Device: hass.Device{Identifiers: []string{"edgeagent-porch"}, Name: "Porch", Manufacturer: "edgeagent", SWVersion: "1.0.0"},
		Origin: hass.Origin{Name: "edgeagent", SWVersion: "1.0.0"},
		Topics: hass.Layout{Base: "edgeagent"}, // or the bridge's own Topics
		Entities: []hass.Entity{
			hass.Sensor{
				Common:      hass.Common{ID: "temperature", Name: hass.Name("Temperature")},
				DeviceClass: "temperature", Unit: "°C", StateClass: hass.StateClassMeasurement,
			},
			hass.Event{
				Common:     hass.Common{ID: "button", Name: hass.Name("Button")},
				EventTypes: []string{"press", "double", "long"},
			},
			hass.Switch{Common: hass.Common{ID: "relay"}}, // nil Name: shows as "Porch"
		},
	}
	cfg, err := node.Build()
	if err != nil {
		fmt.Println(err) // names the entity and the key at fault
		return
	}

	// On connect: read the retained config back (here: nothing was there),
	// then publish the sequence; re-announce on Home Assistant's birth message.
	prev, _ := hass.ParseRetained(nil)
	msgs, _ := cfg.Update(prev)
	for _, m := range msgs {
		fmt.Printf("publish %s retain=%v (%d bytes)\n", m.Topic, m.Retain, len(m.Payload))
	}
	for _, b := range cfg.Bindings() {
		fmt.Printf("%s %s state=%q command=%q retain=%v\n", b.Platform, b.UniqueID, b.StateTopic, b.CommandTopic, b.RetainState)
	}
	press, _ := node.Entities[1].(hass.Event).Payload("press", nil)
	fmt.Printf("event payload %s\n", press)
	// Output:
	// publish homeassistant/device/porch/config retain=true (1001 bytes)
	// sensor porch.temperature state="edgeagent/porch/temperature/state" command="" retain=true
	// event porch.button state="edgeagent/porch/button/event" command="" retain=false
	// switch porch.relay state="edgeagent/porch/relay/state" command="edgeagent/porch/relay/set" retain=true
	// event payload {"event_type":"press"}
}

// A config that breaks Home Assistant's rules is refused, with every problem
// named.
func ExampleNode_Build_invalid() {
	node := hass.Node{
		ID:     "porch",
		Device: hass.Device{Identifiers: []string{"edgeagent-porch"}, Name: "Porch"},
		Origin: hass.Origin{Name: "edgeagent"},
		Topics: hass.Layout{Base: "edgeagent"},
		Entities: []hass.Entity{hass.Sensor{
			Common:      hass.Common{ID: "light"},
			DeviceClass: "illuminance", Unit: "lux", StateClass: hass.StateClassTotalIncreasing,
		}},
	}
	_, err := node.Build()
	fmt.Println(err)
	// Output:
	// hass: entity "light": unit_of_measurement: "lux" is not valid for device_class "illuminance" (valid: "lx")
	// hass: entity "light": state_class: "total_increasing" does not fit device_class "illuminance" (valid: measurement)
}

// When an entity disappears, Home Assistant needs the component reduced to
// its platform first, then the final config.
func ExampleConfig_Update() {
	node := hass.Node{
		ID:       "porch",
		Device:   hass.Device{Identifiers: []string{"edgeagent-porch"}, Name: "Porch"},
		Origin:   hass.Origin{Name: "edgeagent"},
		Topics:   hass.Layout{Base: "edgeagent"},
		Entities: []hass.Entity{hass.Switch{Common: hass.Common{ID: "relay"}}},
	}
	cfg, _ := node.Build()
	retained := []byte(`{"dev":{"ids":"edgeagent-porch"},"o":{"name":"edgeagent"},"cmps":{"relay":{"p":"switch"},"pir":{"p":"binary_sensor"}}}`)
	prev, err := hass.ParseRetained(retained)
	if err != nil {
		fmt.Println(err)
		return
	}
	msgs, _ := cfg.Update(prev)
	for _, m := range msgs {
		now, _ := hass.ParseRetained(m.Payload)
		fmt.Printf("%s %v %d components, pir=%q\n", m.Topic, m.Retain, len(now), now["pir"])
	}
	fmt.Printf("delete: %q on %s\n", cfg.Delete().Payload, cfg.Delete().Topic)
	// Output:
	// homeassistant/device/porch/config true 2 components, pir="binary_sensor"
	// homeassistant/device/porch/config true 1 components, pir=""
	// delete: "" on homeassistant/device/porch/config
}
