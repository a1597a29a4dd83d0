package agent

import (
	"fmt"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge/hass"
)

// valueTemplate reads the value out of a state payload ({"value": …,
// "time": …}).
const valueTemplate = "{{ value_json.value }}"

// homeAssistantNode describes the node to Home Assistant: one device whose
// entities are the configured devices' values.
func homeAssistantNode(cfg *config.Config, version string) hass.Node {
	h := cfg.HomeAssistant
	n := hass.Node{
		ID:     cfg.MQTT.NodeID,
		Prefix: h.DiscoveryPrefix,
		Device: hass.Device{
			Identifiers:   []string{"edgeagent-" + cfg.MQTT.NodeID},
			Name:          h.DeviceName,
			Manufacturer:  "edgeagent",
			Model:         "edgeagent node",
			SWVersion:     version,
			SuggestedArea: h.Area,
		},
		Origin: hass.Origin{Name: "edgeagent", SWVersion: version},
	}
	for _, d := range cfg.Devices {
		// Unavailable while the device fails or restarts, even with the
		// node online: its own availability topic beside the node's.
		avail := deviceAvailabilityTopic(cfg.MQTT.BaseTopic, cfg.MQTT.NodeID, d.Name)
		n.Entities = append(n.Entities, deviceEntities(d, avail)...)
	}
	return n
}

// deviceAvailabilityTopic is a device's own availability topic,
// <base>/<node>/<device>/availability.
func deviceAvailabilityTopic(base, node, device string) string {
	return base + "/" + node + "/" + device + "/availability"
}

// deviceEntities returns the Home Assistant entities of one device: one per
// value, as the value describes it, unless the device type says more; avail
// is the device's availability topic.
func deviceEntities(d *config.Device, avail string) []hass.Entity {
	var es []hass.Entity
	for i := range d.Values {
		es = append(es, valueEntity(d, &d.Values[i], avail))
	}
	if m, ok := deviceTypeEntities(d); ok {
		return m.entities(d, es)
	}
	return es
}

// deviceTypeEntities returns the entityMaker of d's type, if it has one,
// without building the device (which may need hardware).
func deviceTypeEntities(d *config.Device) (entityMaker, bool) {
	switch d.Spec.(type) {
	case *config.LED:
		return ledEntities{}, true
	}
	return nil, false
}

// valueEntity is the Home Assistant entity of one value, available while
// the node and the device's availability topic avail say so.
func valueEntity(d *config.Device, v *config.Value, avail string) hass.Entity {
	c := hass.Common{ID: v.Entity, Name: hass.Name(v.DisplayName), Icon: d.Icon, QoS: int(v.Publish.QoS),
		AvailabilityTopics: []string{avail}}
	if v.Diagnostic {
		c.EntityCategory = hass.CategoryDiagnostic
	}
	switch v.Platform {
	case hass.PlatformSensor:
		s := hass.Sensor{Common: c, DeviceClass: v.DeviceClass, Unit: v.Unit, StateClass: v.StateClass, ValueTemplate: valueTemplate}
		if v.Precision >= 0 {
			s.SuggestedDisplayPrecision = hass.Precision(v.Precision)
		}
		return s
	case hass.PlatformBinarySensor:
		return hass.BinarySensor{Common: c, DeviceClass: v.DeviceClass, ValueTemplate: valueTemplate}
	case hass.PlatformSwitch:
		return hass.Switch{Common: c, DeviceClass: v.DeviceClass, ValueTemplate: valueTemplate}
	case hass.PlatformEvent:
		return hass.Event{Common: c, DeviceClass: v.DeviceClass, EventTypes: v.EventTypes}
	case hass.PlatformLight:
		return hass.Light{Common: c}
	}
	panic(fmt.Sprintf("agent: value %s has platform %q, which config does not give", v.Entity, v.Platform))
}

// Discovery returns the Home Assistant discovery config the agent would
// publish for cfg (for `edgeagent discovery`), or nil when discovery is
// off.
func Discovery(cfg *config.Config, version string) (*hass.Config, error) {
	if !cfg.HomeAssistant.Enabled {
		return nil, nil
	}
	n := homeAssistantNode(cfg, version)
	n.Topics = hass.Layout{Base: cfg.MQTT.BaseTopic}
	c, err := n.Build()
	if err != nil {
		return nil, fmt.Errorf("home assistant discovery: %w", err)
	}
	return c, nil
}
