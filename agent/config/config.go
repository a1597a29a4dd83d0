package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/hass"
)

// Defaults of the top-level keys (docs/configuration.md lists every key).
const (
	DefaultPath            = "/etc/edgeagent/config.yaml"
	DefaultBroker          = "tcp://localhost:1883"
	DefaultBaseTopic       = bridge.DefaultBase
	DefaultKeepAlive       = bridge.DefaultKeepAlive
	DefaultConnectTimeout  = bridge.DefaultConnectTimeout
	DefaultBackoffMin      = bridge.DefaultBackoffMin
	DefaultBackoffMax      = bridge.DefaultBackoffMax
	DefaultReturnInterval  = bridge.DefaultReturnInterval
	DefaultStatusInterval  = time.Minute
	DefaultDiscoveryPrefix = hass.DefaultPrefix
	DefaultBirthTopic      = hass.DefaultBirthTopic
	DefaultStateDir        = "/var/lib/edgeagent"
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultNodeID is the node id when the host name gives none.
	DefaultNodeID = "edgeagent"
)

// Config is a loaded, complete and checked configuration: every default is
// filled in, and everything the file could get wrong has been checked.
type Config struct {
	// File is the name the configuration was loaded from.
	File string
	// MQTT is the connection and the node's identity on the broker.
	MQTT MQTT
	// HomeAssistant is the discovery configuration.
	HomeAssistant HomeAssistant
	// StateDir holds the agent's persistent state (the outbox).
	StateDir string
	// Log is the logging configuration.
	Log Log
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// Devices in the order of the file.
	Devices []*Device
	// Board names the board whose registry checked the pins and buses of
	// the devices that are not simulated; "" when only their form was
	// checked (no Board was given).
	Board string
	// Debug holds switches that let tests break the agent on purpose.
	Debug Debug
}

// Debug holds switches for testing the agent's supervision from outside
// (key debug). Each is off by default and has no use in production.
type Debug struct {
	// AllowHang lets the debug.hang request method hang the agent's loop,
	// so a test can watch systemd's watchdog restart the service.
	AllowHang bool
}

// MQTT is the broker connection and the node's topics (key mqtt).
type MQTT struct {
	// Brokers in order of preference: tcp:// or mqtt:// (1883), or ssl://,
	// tls://, mqtts://, tcps:// with TLS (8883).
	Brokers []string
	// NodeID is the node's topic level and Home Assistant device id.
	NodeID string
	// BaseTopic is the first level or levels of every topic.
	BaseTopic string
	// ClientID is the MQTT client id, unique on the broker; by default the
	// node id.
	ClientID string
	// KeepAlive is the MQTT keep-alive interval.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration
	// Backoff is the reconnect schedule.
	Backoff Backoff
	// ReturnInterval is how often a node on a lesser broker tries the
	// preferred ones again.
	ReturnInterval time.Duration
	// CleanSession asks the broker to forget the session on connect.
	CleanSession bool
	// Username is the MQTT user name; "" connects without one.
	Username string
	// PasswordFile is a file holding the password, or "".
	PasswordFile string
	// PasswordEnv is an environment variable holding the password, or "".
	PasswordEnv string
	// TLS configures TLS brokers; nil uses the system's roots.
	TLS *TLS
	// StatusInterval is the period of the status publication; 0 is off.
	StatusInterval time.Duration
}

// Backoff is a reconnect schedule: Min doubling up to Max, with jitter.
type Backoff struct {
	// Min is the first delay.
	Min time.Duration
	// Max caps the delay.
	Max time.Duration
}

// TLS is the TLS configuration of the brokers that use TLS (key mqtt.tls).
type TLS struct {
	// CAFile is a PEM bundle of the authorities to trust; "" trusts the
	// system's.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key, for
	// brokers that authenticate clients by certificate; both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate (tests only).
	InsecureSkipVerify bool
}

// HomeAssistant is the Home Assistant discovery configuration (key
// homeassistant).
type HomeAssistant struct {
	// Enabled publishes discovery; the node's topics work either way.
	Enabled bool
	// DiscoveryPrefix is Home Assistant's discovery prefix.
	DiscoveryPrefix string
	// BirthTopic is where Home Assistant announces that it (re)started.
	BirthTopic string
	// DeviceName is the device's name in Home Assistant.
	DeviceName string
	// Area is the suggested area of the device; "" for none.
	Area string
}

// LogFormat is how log records are written.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// Log is the logging configuration (key log).
type Log struct {
	// Level is the least severe level written.
	Level slog.Level
	// Format is text (key=value) or json.
	Format LogFormat
}

// Device returns the device named name.
func (c *Config) Device(name string) (*Device, bool) {
	for _, d := range c.Devices {
		if d.Name == name {
			return d, true
		}
	}
	return nil, false
}

// HardwareChecked reports whether a Board checked the pins and buses; when
// false only their form was checked, which `edgeagent validate` says.
func (c *Config) HardwareChecked() bool { return c.Board != "" }

// Summary describes a good configuration in one line, for `edgeagent
// validate`.
func (c *Config) Summary() string {
	sim := 0
	for _, d := range c.Devices {
		if d.Spec.Simulated() {
			sim++
		}
	}
	devices := fmt.Sprintf("%d device", len(c.Devices))
	if len(c.Devices) != 1 {
		devices += "s"
	}
	if sim > 0 {
		devices += fmt.Sprintf(" (%d simulated)", sim)
	}
	checked := "pins and buses checked on " + c.Board
	if c.Board == "" {
		checked = "form checked only: pins and buses were not checked against a board"
	}
	return fmt.Sprintf("%s: OK: node %q, broker %s, %s; %s",
		c.File, c.MQTT.NodeID, strings.Join(c.MQTT.Brokers, ", "), devices, checked)
}
