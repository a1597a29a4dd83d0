package hass

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Entity is one Home Assistant entity of a node: Sensor, BinarySensor,
// Event, Button, Switch or Light. The set is closed; other platforms are not
// supported.
type Entity interface {
	// Platform is the Home Assistant platform (domain) of the entity.
	Platform() string
	base() Common
	build(ctx *buildCtx) (object, Binding)
}

// Common holds the options every entity has.
type Common struct {
	// ID identifies the entity within its node, [a-zA-Z0-9_-]+. It is the
	// component id in the payload, names the entity's topics in the Layout,
	// and with the node id gives the unique_id (see UniqueID): never change
	// it, or Home Assistant sees a new entity.
	ID string
	// Name is the entity name; nil announces name: null, which makes the
	// entity take the device name (use it for the node's main feature).
	Name *string
	// DefaultEntityID suggests the entity_id, "<platform>.<object_id>"; ""
	// derives "<platform>.<node>_<entity>". (It replaces the deprecated
	// object_id option, which Home Assistant stops honouring in 2026.4.)
	DefaultEntityID string
	// Icon as "prefix:name", for example "mdi:thermometer".
	Icon string
	// EntityCategory is "", CategoryConfig or CategoryDiagnostic.
	EntityCategory string
	// DisabledByDefault announces enabled_by_default: false.
	DisabledByDefault bool
	// QoS for Home Assistant's subscriptions and publications, 0 to 2.
	QoS int
	// AvailabilityTopics are the entity's own availability topics beside
	// the node's (a device that can fail while the node runs): the entity
	// is available only while the node's topic and every one of these say
	// PayloadAvailable (availability_mode all).
	AvailabilityTopics []string
}

func (c Common) base() Common { return c }

// Name returns a pointer to s, for Common.Name.
func Name(s string) *string { return &s }

// Precision returns a pointer to n, for Sensor.SuggestedDisplayPrecision.
func Precision(n int) *int { return &n }

// Platforms of the supported entities.
const (
	PlatformSensor       = "sensor"
	PlatformBinarySensor = "binary_sensor"
	PlatformEvent        = "event"
	PlatformButton       = "button"
	PlatformSwitch       = "switch"
	PlatformLight        = "light"
)

// Default payloads, announced explicitly when an entity leaves them empty.
const (
	DefaultPayloadOn    = "ON"
	DefaultPayloadOff   = "OFF"
	DefaultPayloadPress = "PRESS"
)

// Sensor is a read-only value (sensor platform): a temperature, a
// humidity, an uptime…
type Sensor struct {
	Common
	// DeviceClass, for example "temperature"; "" for a generic sensor.
	DeviceClass string
	// Unit exactly as Home Assistant spells it ("°C", "%", "lx", "dBm").
	// The legacy micro sign µ (U+00B5) is announced as μ (U+03BC).
	Unit string
	// StateClass: "" or one of the StateClass constants, consistent with
	// DeviceClass ("measurement" for a temperature).
	StateClass string
	// SuggestedDisplayPrecision: decimals to show; nil leaves it to Home
	// Assistant.
	SuggestedDisplayPrecision *int
	// ExpireAfter marks the value unavailable when no state arrives for
	// this long (whole seconds; 0 never expires). The agent must not retain
	// this sensor's state (Binding.RetainState is false).
	ExpireAfter time.Duration
	// ForceUpdate records every state message even if the value repeats.
	ForceUpdate bool
	// ValueTemplate extracts the value from the state payload.
	ValueTemplate string
	// Options lists the possible states; only with DeviceClass "enum".
	Options []string
	// StateTopic overrides Topics.State.
	StateTopic string
}

// BinarySensor is an on/off input (binary_sensor platform): a switch
// contact, a door, motion.
type BinarySensor struct {
	Common
	DeviceClass string
	// PayloadOn and PayloadOff default to "ON" and "OFF" and must differ.
	PayloadOn, PayloadOff string
	// OffDelay turns the sensor off this long after it turned on (whole
	// seconds); ExpireAfter marks it unavailable without updates. Either
	// one makes Binding.RetainState false.
	OffDelay, ExpireAfter time.Duration
	ValueTemplate         string
	StateTopic            string
}

// Event is a stateless happening (event platform), such as a pushbutton's
// press, double press or long press. The agent publishes
// {"event_type": "<type>"} (see Event.Payload) on the event topic, never
// retained: Home Assistant discards retained event messages.
type Event struct {
	Common
	DeviceClass string
	// EventTypes the entity can fire, for example "press", "double",
	// "long"; non-empty and unique.
	EventTypes    []string
	ValueTemplate string
	// StateTopic overrides Topics.Event.
	StateTopic string
}

// Button is a stateless command from Home Assistant (button platform).
type Button struct {
	Common
	DeviceClass string
	// PayloadPress defaults to "PRESS".
	PayloadPress string
	// CommandTopic overrides Topics.Command.
	CommandTopic string
}

// Switch drives a relay or output pin (switch platform).
type Switch struct {
	Common
	DeviceClass string
	// PayloadOn and PayloadOff are both what Home Assistant sends and what
	// the agent reports; they default to "ON" and "OFF" and must differ.
	PayloadOn, PayloadOff string
	// Optimistic makes Home Assistant assume a command worked without
	// waiting for the state.
	Optimistic    bool
	ValueTemplate string
	// StateTopic and CommandTopic override Topics.State and Topics.Command.
	StateTopic, CommandTopic string
}

// Light is an LED (light platform, JSON schema): commands and states are
// JSON objects such as {"state": "ON", "brightness": 128}.
type Light struct {
	Common
	// ColorModes is the supported_color_modes list; nil means
	// [ColorModeOnOff]. onoff and brightness must stand alone.
	ColorModes []string
	// BrightnessScale is the brightness value of full brightness; 0 means
	// 255. Only with a mode that has brightness.
	BrightnessScale int
	// Effects is the effect_list: the effects a command may ask for
	// ({"effect": "blink"}); none when empty.
	Effects    []string
	Optimistic bool
	// StateTopic and CommandTopic override Topics.State and Topics.Command.
	StateTopic, CommandTopic string
}

// Platform returns "sensor".
func (Sensor) Platform() string { return PlatformSensor }

// Platform returns "binary_sensor".
func (BinarySensor) Platform() string { return PlatformBinarySensor }

// Platform returns "event".
func (Event) Platform() string { return PlatformEvent }

// Platform returns "button".
func (Button) Platform() string { return PlatformButton }

// Platform returns "switch".
func (Switch) Platform() string { return PlatformSwitch }

// Platform returns "light".
func (Light) Platform() string { return PlatformLight }

// buildCtx carries what every entity needs while it is checked and encoded.
type buildCtx struct {
	node   string
	topics Topics
	avail  string // the node's availability topic
	p      *problems
}

// head writes the keys every component starts with.
func (x *buildCtx) head(platform string, c Common) (object, Binding) {
	o := object{}
	o.add("platform", platform)
	uid := UniqueID(x.node, c.ID)
	o.add("unique_id", uid)
	if c.Name == nil {
		o.add("name", null{})
	} else {
		if r := checkText(*c.Name); r != "" {
			x.p.add("name", "%s (use a nil Name to show the device name)", r)
		}
		o.add("name", *c.Name)
	}
	def := c.DefaultEntityID
	if def == "" {
		def = platform + "." + slug(x.node+"_"+c.ID)
	}
	domain, objectID, ok := strings.Cut(def, ".")
	switch {
	case !ok || domain != platform:
		x.p.add("default_entity_id", "%q must start with %q", def, platform+".")
	case !validObjectID(objectID):
		x.p.add("default_entity_id", "%q: the part after %q must use a-z, 0-9 and single _ (not at either end)", def, platform+".")
	}
	o.add("default_entity_id", def)
	return o, Binding{Entity: c.ID, Platform: platform, UniqueID: uid}
}

// tail writes the options every component ends with.
func (x *buildCtx) tail(o *object, c Common, platform string) {
	if c.Icon != "" {
		if !strings.Contains(c.Icon, ":") || checkText(c.Icon) != "" {
			x.p.add("icon", "%q must look like prefix:name, for example mdi:thermometer", c.Icon)
		}
		o.add("icon", c.Icon)
	}
	switch c.EntityCategory {
	case "":
	case CategoryDiagnostic:
		o.add("entity_category", c.EntityCategory)
	case CategoryConfig:
		if platform == PlatformSensor || platform == PlatformBinarySensor {
			x.p.add("entity_category", "%q is refused for a read-only %s; use %q", c.EntityCategory, platform, CategoryDiagnostic)
		}
		o.add("entity_category", c.EntityCategory)
	default:
		x.p.add("entity_category", "%q is not %q or %q", c.EntityCategory, CategoryConfig, CategoryDiagnostic)
	}
	if c.DisabledByDefault {
		o.add("enabled_by_default", false)
	}
	switch {
	case c.QoS < 0 || c.QoS > 2:
		x.p.add("qos", "%d is not 0, 1 or 2", c.QoS)
	case c.QoS > 0:
		o.add("qos", c.QoS)
	}
	if len(c.AvailabilityTopics) > 0 {
		topics := []string{x.avail}
		for i, t := range c.AvailabilityTopics {
			switch {
			case checkTopic(t) != "":
				x.p.add(fmt.Sprintf("availability[%d]", i+1), "%s", checkTopic(t))
			case slices.Contains(topics, t):
				x.p.add(fmt.Sprintf("availability[%d]", i+1), "%q is listed twice", t)
			}
			topics = append(topics, t)
		}
		// The node's list replaced by the entity's: the node's topic and
		// the entity's, all of which must say available.
		o.add("availability", availabilityList(topics...))
		o.add("availability_mode", "all")
	}
}

// topic resolves one topic: the entity's override, else the layout's.
func (x *buildCtx) topic(key, override string, layout func(Topics) string) string {
	t := override
	if t == "" && x.topics != nil {
		t = layout(x.topics)
	}
	if r := checkTopic(t); r != "" {
		x.p.add(key, "%s (set Node.Topics or the entity's topic field)", r)
	}
	return t
}

func (x *buildCtx) deviceClass(o *object, dc string, valid []string, platform string) {
	if dc == "" {
		return
	}
	if !slices.Contains(valid, dc) {
		x.p.add("device_class", "%q is not a %s device class (valid: %s)", dc, platform, strings.Join(valid, ", "))
	}
	o.add("device_class", dc)
}

func (x *buildCtx) text(o *object, key, s string) {
	if s == "" {
		return
	}
	if r := checkText(s); r != "" {
		x.p.add(key, "%s", r)
	}
	o.add(key, s)
}

// distinctTexts adds a list of strings under key, each checked as text and
// none repeated (what names one element in messages).
func (x *buildCtx) distinctTexts(o *object, key, what string, list []string) {
	seen := map[string]bool{}
	for i, v := range list {
		if r := checkText(v); r != "" {
			x.p.add(fmt.Sprintf("%s[%d]", key, i), "%s", r)
		} else if seen[v] {
			x.p.add(fmt.Sprintf("%s[%d]", key, i), "duplicate %s %q", what, v)
		}
		seen[v] = true
	}
	o.add(key, slices.Clone(list))
}

func (x *buildCtx) duration(o *object, key string, d time.Duration) int {
	n, r := seconds(d)
	if r != "" {
		x.p.add(key, "%s", r)
	}
	if n > 0 {
		o.add(key, n)
	}
	return n
}

// onOff resolves and checks a payload pair.
func (x *buildCtx) onOff(o *object, on, off string) {
	if on == "" {
		on = DefaultPayloadOn
	}
	if off == "" {
		off = DefaultPayloadOff
	}
	if r := checkText(on); r != "" {
		x.p.add("payload_on", "%s", r)
	}
	if r := checkText(off); r != "" {
		x.p.add("payload_off", "%s", r)
	}
	if on == off {
		x.p.add("payload_off", "%q is also payload_on; they must differ", off)
	}
	o.add("payload_on", on)
	o.add("payload_off", off)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		if s == "" {
			q[i] = "no unit"
		} else {
			q[i] = fmt.Sprintf("%q", s)
		}
	}
	return strings.Join(q, ", ")
}

func (s Sensor) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformSensor, s.Common)
	dc := s.DeviceClass
	unit := normalizeUnit(s.Unit)
	if dc != "" {
		if !validSensorClass(dc) {
			x.p.add("device_class", "%q is not a sensor device class", dc)
		}
		o.add("device_class", dc)
	}
	nonNumeric := nonNumericSensorClass(dc)
	if unit != "" {
		switch {
		case checkText(unit) != "" || strings.TrimSpace(unit) != unit:
			x.p.add("unit_of_measurement", "%q is blank, not UTF-8 or has surrounding spaces", unit)
		case nonNumeric:
			x.p.add("unit_of_measurement", "%q: device_class %q has no unit", unit, dc)
		}
		o.add("unit_of_measurement", unit)
	}
	if units, checked := sensorUnits(dc); checked && !slices.Contains(units, unit) {
		if unit == "" {
			x.p.add("unit_of_measurement", "missing: device_class %q needs one of %s", dc, quoteAll(units))
		} else {
			x.p.add("unit_of_measurement", "%q is not valid for device_class %q (valid: %s)", unit, dc, quoteAll(units))
		}
	}
	if sc := s.StateClass; sc != "" {
		switch {
		case !validStateClass(sc):
			x.p.add("state_class", "%q is not a state class (valid: %s)", sc, strings.Join(allStateClasses(), ", "))
		case nonNumeric:
			x.p.add("state_class", "%q: device_class %q is not numeric and takes no state class", sc, dc)
		case dc != "" && !slices.Contains(sensorStateClasses(dc), sc):
			x.p.add("state_class", "%q does not fit device_class %q (valid: %s)", sc, dc, strings.Join(sensorStateClasses(dc), ", "))
		}
		if only := stateClassUnits(sc); only != nil && !slices.Contains(only, unit) {
			x.p.add("unit_of_measurement", "%q is not valid with state_class %q (valid: %s)", unit, sc, quoteAll(only))
		}
		o.add("state_class", sc)
	}
	if pr := s.SuggestedDisplayPrecision; pr != nil {
		switch {
		case *pr < 0:
			x.p.add("suggested_display_precision", "%d is negative", *pr)
		case nonNumeric:
			x.p.add("suggested_display_precision", "device_class %q is not numeric", dc)
		}
		o.add("suggested_display_precision", *pr)
	}
	if s.Options != nil {
		switch {
		case dc != "enum":
			x.p.add("options", "only a sensor with device_class \"enum\" takes options (device_class is %q)", dc)
		case len(s.Options) == 0:
			x.p.add("options", "empty list")
		}
		x.distinctTexts(&o, "options", "option", s.Options)
	} else if dc == "enum" {
		x.p.add("options", "device_class \"enum\" needs the list of options")
	}
	expire := x.duration(&o, "expire_after", s.ExpireAfter)
	if s.ForceUpdate {
		o.add("force_update", true)
	}
	x.text(&o, "value_template", s.ValueTemplate)
	b.StateTopic = x.topic("state_topic", s.StateTopic, func(t Topics) string { return t.State(x.node, s.ID) })
	o.add("state_topic", b.StateTopic)
	b.RetainState = expire == 0
	x.tail(&o, s.Common, PlatformSensor)
	return o, b
}

func (s BinarySensor) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformBinarySensor, s.Common)
	x.deviceClass(&o, s.DeviceClass, binarySensorClasses(), PlatformBinarySensor)
	x.onOff(&o, s.PayloadOn, s.PayloadOff)
	offDelay := x.duration(&o, "off_delay", s.OffDelay)
	expire := x.duration(&o, "expire_after", s.ExpireAfter)
	x.text(&o, "value_template", s.ValueTemplate)
	b.StateTopic = x.topic("state_topic", s.StateTopic, func(t Topics) string { return t.State(x.node, s.ID) })
	o.add("state_topic", b.StateTopic)
	b.RetainState = offDelay == 0 && expire == 0
	x.tail(&o, s.Common, PlatformBinarySensor)
	return o, b
}

func (e Event) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformEvent, e.Common)
	x.deviceClass(&o, e.DeviceClass, eventClasses(), PlatformEvent)
	if len(e.EventTypes) == 0 {
		x.p.add("event_types", "at least one event type is required")
	}
	x.distinctTexts(&o, "event_types", "event type", e.EventTypes)
	x.text(&o, "value_template", e.ValueTemplate)
	b.StateTopic = x.topic("state_topic", e.StateTopic, func(t Topics) string { return t.Event(x.node, e.ID) })
	o.add("state_topic", b.StateTopic)
	b.RetainState = false // Home Assistant discards retained event messages
	x.tail(&o, e.Common, PlatformEvent)
	return o, b
}

// Payload encodes one event message: {"event_type": eventType} plus attrs
// (sorted keys). eventType must be one of EventTypes and attrs must not set
// "event_type". Publish it on the event topic without the retain flag.
func (e Event) Payload(eventType string, attrs map[string]any) ([]byte, error) {
	if !slices.Contains(e.EventTypes, eventType) {
		return nil, &FieldError{Entity: e.ID, Key: "event_type",
			Reason: fmt.Sprintf("%q is not one of the announced event types (%s)", eventType, strings.Join(e.EventTypes, ", "))}
	}
	o := object{}
	o.add("event_type", eventType)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if k == "event_type" {
			return nil, &FieldError{Entity: e.ID, Key: "event_type", Reason: "attrs must not set event_type"}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw, err := json.Marshal(attrs[k])
		if err != nil {
			return nil, &FieldError{Entity: e.ID, Key: k, Reason: err.Error()}
		}
		o.add(k, json.RawMessage(raw))
	}
	return marshal(o)
}

func (bt Button) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformButton, bt.Common)
	x.deviceClass(&o, bt.DeviceClass, buttonClasses(), PlatformButton)
	press := bt.PayloadPress
	if press == "" {
		press = DefaultPayloadPress
	}
	x.text(&o, "payload_press", press)
	b.CommandTopic = x.topic("command_topic", bt.CommandTopic, func(t Topics) string { return t.Command(x.node, bt.ID) })
	o.add("command_topic", b.CommandTopic)
	x.tail(&o, bt.Common, PlatformButton)
	return o, b
}

func (s Switch) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformSwitch, s.Common)
	x.deviceClass(&o, s.DeviceClass, switchClasses(), PlatformSwitch)
	x.onOff(&o, s.PayloadOn, s.PayloadOff)
	if s.Optimistic {
		o.add("optimistic", true)
	}
	x.text(&o, "value_template", s.ValueTemplate)
	b.CommandTopic = x.topic("command_topic", s.CommandTopic, func(t Topics) string { return t.Command(x.node, s.ID) })
	b.StateTopic = x.topic("state_topic", s.StateTopic, func(t Topics) string { return t.State(x.node, s.ID) })
	if b.StateTopic != "" && b.StateTopic == b.CommandTopic {
		x.p.add("state_topic", "%q is also the command topic; Home Assistant would read its own commands as states", b.StateTopic)
	}
	o.add("command_topic", b.CommandTopic)
	o.add("state_topic", b.StateTopic)
	b.RetainState = true
	x.tail(&o, s.Common, PlatformSwitch)
	return o, b
}

func (l Light) build(x *buildCtx) (object, Binding) {
	o, b := x.head(PlatformLight, l.Common)
	o.add("schema", "json")
	modes := l.ColorModes
	if modes == nil {
		modes = []string{ColorModeOnOff}
	}
	x.colorModes(modes)
	o.add("supported_color_modes", slices.Clone(modes))
	hasBrightness := len(modes) > 0 && !slices.Contains(modes, ColorModeOnOff)
	switch {
	case l.BrightnessScale < 0:
		x.p.add("brightness_scale", "%d is not positive", l.BrightnessScale)
	case l.BrightnessScale > 0 && !hasBrightness:
		x.p.add("brightness_scale", "color mode onoff has no brightness")
	case hasBrightness:
		scale := l.BrightnessScale
		if scale == 0 {
			scale = 255
		}
		o.add("brightness_scale", scale)
	}
	if len(l.Effects) > 0 {
		// The flag and the list: Home Assistant offers effects only with both.
		o.add("effect", true)
		x.distinctTexts(&o, "effect_list", "effect", l.Effects)
	}
	if l.Optimistic {
		o.add("optimistic", true)
	}
	b.CommandTopic = x.topic("command_topic", l.CommandTopic, func(t Topics) string { return t.Command(x.node, l.ID) })
	b.StateTopic = x.topic("state_topic", l.StateTopic, func(t Topics) string { return t.State(x.node, l.ID) })
	if b.StateTopic != "" && b.StateTopic == b.CommandTopic {
		x.p.add("state_topic", "%q is also the command topic; Home Assistant would read its own commands as states", b.StateTopic)
	}
	o.add("command_topic", b.CommandTopic)
	o.add("state_topic", b.StateTopic)
	b.RetainState = true
	x.tail(&o, l.Common, PlatformLight)
	return o, b
}

// colorModes applies Home Assistant's valid_supported_color_modes rule.
func (x *buildCtx) colorModes(modes []string) {
	if len(modes) == 0 {
		x.p.add("supported_color_modes", "empty list")
		return
	}
	seen := map[string]bool{}
	for _, m := range modes {
		if !slices.Contains(lightColorModes(), m) {
			x.p.add("supported_color_modes", "%q is not a color mode (valid: %s)", m, strings.Join(lightColorModes(), ", "))
		}
		if seen[m] {
			x.p.add("supported_color_modes", "%q is listed twice", m)
		}
		seen[m] = true
	}
	for _, alone := range []string{ColorModeOnOff, ColorModeBrightness} {
		if seen[alone] && len(modes) > 1 {
			x.p.add("supported_color_modes", "%q must be the only color mode", alone)
		}
	}
	if seen["white"] && !(seen["hs"] || seen["xy"] || seen["rgb"] || seen["rgbw"] || seen["rgbww"]) {
		x.p.add("supported_color_modes", "\"white\" needs a color mode (hs, xy, rgb, rgbw or rgbww)")
	}
}
