package config

import (
	"time"

	"github.com/edgeagent/edgeagent/agent/filter"
)

// Delivery says what reaches the broker of the values published during an
// outage (the bridge keeps QoS 1 and 2 messages in its outbox meanwhile).
type Delivery string

// Deliveries.
const (
	// DeliveryLatest delivers only the latest value: the default for
	// states, where an old value is of no use once a newer one exists.
	DeliveryLatest Delivery = "latest"
	// DeliveryAll delivers every value, in order.
	DeliveryAll Delivery = "all"
	// DeliveryMaxAge delivers every value observed at most MaxAge before
	// the delivery: the default for events, so a doorbell pressed an hour
	// ago does not ring when the link comes back.
	DeliveryMaxAge Delivery = "max_age"
)

// Defaults of the publish keys.
const (
	DefaultQoS         = 1
	DefaultEventMaxAge = time.Minute
)

// Publish says how one value is published (key publish of a device, and
// its per-value sections).
type Publish struct {
	// Filter decides which observations are published, and when.
	Filter filter.Spec
	// QoS is the MQTT quality of service, 0 to 2.
	QoS byte
	// Retain asks the broker to keep the latest message for new
	// subscribers: true for states by default, never for events.
	Retain bool
	// Delivery is what an outage delivers.
	Delivery Delivery
	// MaxAge is the age limit of DeliveryMaxAge; 0 otherwise.
	MaxAge time.Duration
}

// Kind is the kind of a device's value.
type Kind uint8

// Kinds.
const (
	Numeric Kind = iota + 1 // a number, published as its decimal text
	Binary                  // on or off
	Text                    // a text
	Event                   // something that happened; never retained
	Light                   // an LED's JSON state; takes commands
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Binary:
		return "binary"
	case Text:
		return "text"
	case Event:
		return "event"
	case Light:
		return "light"
	}
	return "unknown"
}

// Value is one thing a device publishes — a temperature, a button's
// gestures, a relay's state — and how Home Assistant sees it.
type Value struct {
	// Name is the value's name within the device ("temperature"); "" for a
	// device with a single value.
	Name string
	// Entity is the value's id within the node: its topic level
	// (<base>/<node>/<entity>/state) and its Home Assistant component id.
	// It is the device name, or "<device>_<value>" for a device with
	// several values.
	Entity string
	// DisplayName is the name Home Assistant shows.
	DisplayName string
	// Kind is what the value is.
	Kind Kind
	// Command says the value takes set commands (a relay, an LED, a
	// serial line).
	Command bool
	// Platform is the Home Assistant platform: sensor, binary_sensor,
	// event, switch or light.
	Platform string
	// DeviceClass, Unit and StateClass describe the value to Home
	// Assistant ("" for none).
	DeviceClass, Unit, StateClass string
	// Precision is the suggested display precision in decimals; -1 leaves
	// it to Home Assistant.
	Precision int
	// EventTypes are an event's types.
	EventTypes []string
	// Diagnostic puts the entity in Home Assistant's diagnostic category.
	Diagnostic bool
	// Publish is how the value is published, defaults filled in.
	Publish Publish
}
