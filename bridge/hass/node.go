package hass

import (
	"errors"
	"fmt"
	"slices"
)

// DefaultPrefix is Home Assistant's default discovery prefix.
const DefaultPrefix = "homeassistant"

// Home Assistant's default birth message: it publishes BirthOnline on
// DefaultBirthTopic (not retained, QoS 0) when it starts or reconnects, and
// the bridge should then publish every Announce again, followed by the
// current states. The birth topic is set separately from the discovery
// prefix in Home Assistant's MQTT options; it does not follow Prefix.
const (
	DefaultBirthTopic = "homeassistant/status"
	BirthOnline       = "online"
)

// Availability payloads announced to Home Assistant (its defaults, sent
// explicitly so the bridge and the payload agree).
const (
	PayloadAvailable    = "online"
	PayloadNotAvailable = "offline"
)

// Topics gives the MQTT topics of a node's entities. The bridge owns the
// layout: it implements Topics (or uses Layout) and package hass only copies
// the strings into the discovery payload. A method may return "" when the
// entity sets the topic itself; an empty topic left after that is an error.
type Topics interface {
	Availability(node string) string
	State(node, entity string) string
	Command(node, entity string) string
	Event(node, entity string) string
}

// Layout is the bridge's default topic layout:
//
//	<Base>/<node>/availability
//	<Base>/<node>/<entity>/state
//	<Base>/<node>/<entity>/set
//	<Base>/<node>/<entity>/event
type Layout struct {
	Base string
}

// Availability returns <Base>/<node>/availability.
func (l Layout) Availability(node string) string { return l.Base + "/" + node + "/availability" }

// State returns <Base>/<node>/<entity>/state.
func (l Layout) State(node, entity string) string {
	return l.Base + "/" + node + "/" + entity + "/state"
}

// Command returns <Base>/<node>/<entity>/set.
func (l Layout) Command(node, entity string) string {
	return l.Base + "/" + node + "/" + entity + "/set"
}

// Event returns <Base>/<node>/<entity>/event.
func (l Layout) Event(node, entity string) string {
	return l.Base + "/" + node + "/" + entity + "/event"
}

// Device is the Home Assistant device the node appears as. Empty optional
// fields are left out of the payload; Home Assistant rejects the whole
// config for an unknown key or a null in this block, so nothing else is ever
// written.
type Device struct {
	Identifiers      []string // required, at least one; stable across restarts
	Name             string   // required: entities with a nil Name show this name
	Manufacturer     string
	Model            string
	ModelID          string
	SWVersion        string
	HWVersion        string
	SerialNumber     string
	SuggestedArea    string
	ConfigurationURL string // http(s)://host… or homeassistant://…
	ViaDevice        string // identifier of a parent device (a gateway)
}

// Origin names the software that publishes the config; Home Assistant
// requires it for device-based discovery and shows it in its logs.
type Origin struct {
	Name       string // required
	SWVersion  string
	SupportURL string // http(s)://host… or homeassistant://…
}

// Node is one edgeagent node announced as one Home Assistant device.
type Node struct {
	// ID is the node id, [a-zA-Z0-9_-]+: the discovery topic is
	// <Prefix>/device/<ID>/config and unique ids derive from it, so it must
	// never change between restarts.
	ID string
	// Prefix is Home Assistant's discovery prefix; "" means DefaultPrefix.
	Prefix string
	Device Device
	Origin Origin
	// Topics supplies every topic an entity or the node does not set itself.
	Topics Topics
	// AvailabilityTopic overrides Topics.Availability. The agent publishes
	// PayloadAvailable / PayloadNotAvailable there (retained, with the
	// offline one as its MQTT will).
	AvailabilityTopic string
	// Entities in announcement order; ids unique within the node.
	Entities []Entity
}

// availabilityList is the availability option for topics: each carries
// PayloadAvailable / PayloadNotAvailable.
func availabilityList(topics ...string) []object {
	list := make([]object, 0, len(topics))
	for _, t := range topics {
		o := object{}
		o.add("topic", t)
		o.add("payload_available", PayloadAvailable)
		o.add("payload_not_available", PayloadNotAvailable)
		list = append(list, o)
	}
	return list
}

// Message is one MQTT publication for the bridge to make.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// Binding tells the bridge how one announced entity is wired.
type Binding struct {
	Entity       string // entity id within the node
	Platform     string // sensor, binary_sensor, event, button, switch, light
	UniqueID     string
	StateTopic   string // where the agent publishes; "" for a button
	CommandTopic string // where Home Assistant publishes; "" for read-only entities
	// RetainState says whether the agent may publish on StateTopic with the
	// retain flag. False for events (Home Assistant discards retained event
	// messages, and a replay would fire the event again) and for sensors
	// with ExpireAfter (a retained stale value would look fresh).
	RetainState bool
}

// Config is a validated, encoded Node: what the bridge publishes. It is
// immutable and safe to share.
type Config struct {
	prefix   string
	node     string
	topic    string
	payload  []byte
	root     object // payload without components, reused for removal payloads
	comps    components
	platform Components
	bindings []Binding
}

// Components maps component (entity) id to its Home Assistant platform: the
// set a device payload announces.
type Components map[string]string

// UniqueID returns the unique_id announced for entity of node:
// "<node>.<entity>". Both ids use [a-zA-Z0-9_-] only, so the "." keeps
// distinct pairs distinct, and the value is stable across restarts.
func UniqueID(node, entity string) string { return node + "." + entity }

// DeviceTopic returns the discovery topic of a node's device config.
func DeviceTopic(prefix, node string) (string, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if r := checkPrefix(prefix); r != "" {
		return "", &FieldError{Key: "Prefix", Reason: r}
	}
	if !validID(node) {
		return "", &FieldError{Key: "ID", Reason: fmt.Sprintf("node id %q must be non-empty and use only a-z, A-Z, 0-9, _ and -", node)}
	}
	return prefix + "/device/" + node + "/config", nil
}

// DeleteDevice returns the message that removes a node's device and all its
// entities from Home Assistant: an empty retained payload on its discovery
// topic, which also clears the retained config from the broker.
func DeleteDevice(prefix, node string) (Message, error) {
	t, err := DeviceTopic(prefix, node)
	if err != nil {
		return Message{}, err
	}
	return Message{Topic: t, Payload: []byte{}, Retain: true}, nil
}

// Build validates n and encodes its discovery payload. Every broken rule is
// reported (errors.Join of *FieldError, each matching ErrInvalid); nothing
// invalid is ever encoded.
func (n Node) Build() (*Config, error) {
	p := problems{}
	prefix := n.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	topic, err := DeviceTopic(prefix, n.ID)
	if err != nil {
		p.errs = append(p.errs, err)
	}

	root := object{}
	root.add("device", n.Device.encode(&p))
	root.add("origin", n.Origin.encode(&p))

	avail := n.AvailabilityTopic
	if avail == "" && n.Topics != nil && validID(n.ID) {
		avail = n.Topics.Availability(n.ID)
	}
	if r := checkTopic(avail); r != "" {
		p.add("availability_topic", "%s (set Node.Topics or Node.AvailabilityTopic)", r)
	}
	// Shared options at the root are inherited by every component that does
	// not set its own. The list form, not availability_topic: Home Assistant
	// refuses a component holding both, and a component with a topic of its
	// own (Common.AvailabilityTopics) sets availability, which replaces the
	// root's.
	root.add("availability", availabilityList(avail))

	if len(n.Entities) == 0 {
		p.add("Entities", "a node needs at least one entity (use DeleteDevice to remove a device)")
	}
	comps := components{}
	platforms := Components{}
	var bindings []Binding
	for i, e := range n.Entities {
		if e == nil {
			p.add(fmt.Sprintf("Entities[%d]", i), "nil entity")
			continue
		}
		id := e.base().ID
		ep := problems{entity: id}
		if !validID(id) {
			ep.add("id", "entity id %q must be non-empty and use only a-z, A-Z, 0-9, _ and -", id)
		}
		if _, dup := comps[id]; dup {
			ep.add("unique_id", "%q is announced twice in node %q (entity ids must be unique)", UniqueID(n.ID, id), n.ID)
		}
		ctx := buildCtx{node: n.ID, topics: n.Topics, avail: avail, p: &ep}
		obj, b := e.build(&ctx)
		p.errs = append(p.errs, ep.errs...)
		if len(ep.errs) == 0 {
			comps[id] = obj
			platforms[id] = e.Platform()
			bindings = append(bindings, b)
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}

	full := append(slices.Clone(root), field{"components", comps})
	payload, err := marshal(full)
	if err != nil {
		return nil, err
	}
	return &Config{
		prefix: prefix, node: n.ID, topic: topic, payload: payload,
		root: root, comps: comps, platform: platforms, bindings: bindings,
	}, nil
}

// Topic returns the discovery topic, <prefix>/device/<node>/config.
func (c *Config) Topic() string { return c.topic }

// Payload returns a copy of the encoded discovery payload.
func (c *Config) Payload() []byte { return slices.Clone(c.payload) }

// Announce returns the retained discovery message. Publish it on every
// (re)connect and again when Home Assistant's birth message arrives.
func (c *Config) Announce() Message {
	return Message{Topic: c.topic, Payload: c.Payload(), Retain: true}
}

// Components returns the announced component set (a fresh map).
func (c *Config) Components() Components {
	out := make(Components, len(c.platform))
	for id, p := range c.platform {
		out[id] = p
	}
	return out
}

// Bindings returns how each entity is wired, in Node.Entities order.
func (c *Config) Bindings() []Binding { return slices.Clone(c.bindings) }

// Binding returns the wiring of one entity.
func (c *Config) Binding(entity string) (Binding, bool) {
	for _, b := range c.bindings {
		if b.Entity == entity {
			return b, true
		}
	}
	return Binding{}, false
}

// Delete returns the message removing this node's device from Home
// Assistant (an empty retained payload).
func (c *Config) Delete() Message { return Message{Topic: c.topic, Payload: []byte{}, Retain: true} }

// Update returns the publish sequence that takes Home Assistant from prev
// (the component set announced before, for example parsed with
// ParseRetained from the retained config) to c. With nothing to remove it is
// just Announce. Otherwise Home Assistant needs two payloads, both retained
// on the same topic: first c with every vanished component reduced to
// {"platform": <old platform>} (an entity that changed platform counts as
// vanished under its old platform), then c itself.
func (c *Config) Update(prev Components) ([]Message, error) {
	gone := components{}
	for id, oldPlatform := range prev {
		if c.platform[id] == oldPlatform {
			continue
		}
		if !supportedPlatform(oldPlatform) {
			return nil, &FieldError{Entity: id, Key: "platform",
				Reason: fmt.Sprintf("previous platform %q is not one Home Assistant supports; cannot remove it", oldPlatform)}
		}
		stub := object{}
		stub.add("platform", oldPlatform)
		gone[id] = stub
	}
	if len(gone) == 0 {
		return []Message{c.Announce()}, nil
	}
	transitional := components{}
	for id, obj := range c.comps {
		transitional[id] = obj
	}
	for id, stub := range gone {
		transitional[id] = stub
	}
	payload, err := marshal(append(slices.Clone(c.root), field{"components", transitional}))
	if err != nil {
		return nil, err
	}
	return []Message{{Topic: c.topic, Payload: payload, Retain: true}, c.Announce()}, nil
}

// encode checks and encodes the device block. Only non-empty strings are
// written: a null or unknown key would make Home Assistant drop the config.
func (d Device) encode(p *problems) object {
	o := object{}
	ids := []string{}
	if len(d.Identifiers) == 0 {
		p.add("device.identifiers", "at least one identifier is required")
	}
	seen := map[string]bool{}
	for i, id := range d.Identifiers {
		if r := checkText(id); r != "" {
			p.add(fmt.Sprintf("device.identifiers[%d]", i), "%s", r)
			continue
		}
		if seen[id] {
			p.add(fmt.Sprintf("device.identifiers[%d]", i), "duplicate identifier %q", id)
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	o.add("identifiers", ids)
	if r := checkText(d.Name); r != "" {
		p.add("device.name", "%s (entities without a name show the device name)", r)
	}
	o.addString("name", d.Name)
	for _, f := range []struct{ key, val string }{
		{"manufacturer", d.Manufacturer}, {"model", d.Model}, {"model_id", d.ModelID},
		{"sw_version", d.SWVersion}, {"hw_version", d.HWVersion}, {"serial_number", d.SerialNumber},
		{"suggested_area", d.SuggestedArea}, {"configuration_url", d.ConfigurationURL},
		{"via_device", d.ViaDevice},
	} {
		if f.val == "" {
			continue
		}
		if r := checkText(f.val); r != "" {
			p.add("device."+f.key, "%s", r)
			continue
		}
		if f.key == "configuration_url" {
			if r := checkURL(f.val); r != "" {
				p.add("device.configuration_url", "%s", r)
				continue
			}
		}
		o.add(f.key, f.val)
	}
	return o
}

func (g Origin) encode(p *problems) object {
	o := object{}
	if r := checkText(g.Name); r != "" {
		p.add("origin.name", "%s (Home Assistant requires the origin name)", r)
	}
	o.addString("name", g.Name)
	if g.SWVersion != "" {
		if r := checkText(g.SWVersion); r != "" {
			p.add("origin.sw_version", "%s", r)
		}
		o.add("sw_version", g.SWVersion)
	}
	if g.SupportURL != "" {
		if r := checkURL(g.SupportURL); r != "" {
			p.add("origin.support_url", "%s", r)
		}
		o.add("support_url", g.SupportURL)
	}
	return o
}
