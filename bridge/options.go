package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/bridge/internal/backoff"
	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/bridge/topic"
)

// Defaults of the options.
const (
	DefaultBase            = topic.DefaultBase
	DefaultKeepAlive       = 30 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultBackoffMin      = backoff.DefaultMin
	DefaultBackoffMax      = backoff.DefaultMax
	DefaultSlowAfter       = backoff.DefaultPatience
	DefaultSlowBackoffMax  = backoff.DefaultSlowMax
	DefaultReturnInterval  = time.Minute
	DefaultInflight        = 256
	DefaultShutdownTimeout = 3 * time.Second
	DefaultHABirthDelay    = 2 * time.Second
	DefaultQoS0Backlog     = 1024
)

// An Option configures a Bridge. Options check their own arguments; New
// reports every bad one, each error naming its option.
type Option func(*settings)

// settings is what the options build; New checks it as a whole.
type settings struct {
	errs []error

	brokers         []string
	base, node      string
	clientID        string
	keepAlive       time.Duration
	connectTimeout  time.Duration
	cleanSession    bool
	backoff         backoff.Schedule
	subRetry        backoff.Schedule
	jitter          func() float64 // uniform in [0, 1)
	returnInterval  time.Duration
	shutdownTimeout time.Duration

	stateDir    string
	obMaxCount  int
	obMaxBytes  int64
	obOverflow  outbox.Overflow
	obSync      outbox.SyncPolicy
	obSyncSet   bool
	inflight    int
	qos0Backlog int
	onMessage   func(Message) // tests: called on paho's goroutine for every message

	tls          *TLS
	username     string
	passwordFile string
	passwordEnv  string

	logger         *slog.Logger
	statusInterval time.Duration

	ha         *hass.Node
	haBirth    string
	haDelay    time.Duration
	noQuickAck bool
}

func (s *settings) fail(option string, format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("%s: %s", option, fmt.Sprintf(format, args...)))
}

// WithBrokers sets the brokers, in order of preference: "tcp://host:port"
// (also mqtt://), or "ssl://", "tls://", "mqtts://" for TLS. The port
// defaults to 1883, or 8883 with TLS. The bridge connects to the first that
// answers, fails over down the list when a connection is lost, and while on
// a lesser one tries the better ones again every WithReturnInterval.
// Required.
func WithBrokers(urls ...string) Option {
	return func(s *settings) {
		if len(urls) == 0 {
			s.fail("WithBrokers", "no broker given")
		}
		s.brokers = append(s.brokers, urls...)
	}
}

// WithBase sets the first topic level(s) of every topic of the layout;
// default "edgeagent".
func WithBase(base string) Option {
	return func(s *settings) { s.base = base }
}

// WithNode sets the node id, the topic level naming this agent; default
// the host name.
func WithNode(node string) Option {
	return func(s *settings) { s.node = node }
}

// WithClientID sets the MQTT client id; default the node id, so that a
// Mosquitto ACL pattern on %c (or on %u with the node id as user name)
// fits the node's topics (see the README). It must be unique on the
// broker: two clients with one id keep kicking each other off — give each
// node its own id when two bases share a broker with a node id in common.
func WithClientID(id string) Option {
	return func(s *settings) {
		if id == "" {
			s.fail("WithClientID", "empty client id")
		}
		s.clientID = id
	}
}

// WithKeepAlive sets the MQTT keep-alive interval (default 30 s): the
// client pings when idle this long, and a link silent for 1.5 times it is
// considered lost. At least one second.
func WithKeepAlive(d time.Duration) Option {
	return func(s *settings) {
		if d < time.Second {
			s.fail("WithKeepAlive", "%v is shorter than 1s", d)
		}
		s.keepAlive = d
	}
}

// WithConnectTimeout bounds one connection attempt: dial, TLS handshake and
// CONNACK (default 10 s).
func WithConnectTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithConnectTimeout", "%v is not positive", d)
		}
		s.connectTimeout = d
	}
}

// WithCleanSession asks the broker for a clean session on every connect.
// By default the session is persistent: the broker keeps the subscriptions
// and queues QoS ≥ 1 messages while the node is away, and redelivers
// messages the node did not acknowledge (see Policy). The bridge subscribes
// again on every connect either way.
func WithCleanSession(clean bool) Option {
	return func(s *settings) { s.cleanSession = clean }
}

// WithBackoff sets the delays between rounds of failed connection attempts
// while an outage is young: the delay starts at min and doubles each round
// up to max, and each is drawn at random from its upper half (jitter), so
// that agents that lost the broker together do not come back in lockstep.
// Since the node notices the broker's return only when its current delay
// ends, max is the longest it takes to be back (defaults 500 ms and 4 s:
// back within 4 s, 3.1 s at the 95th percentile, for outages up to
// WithSlowBackoff's threshold).
func WithBackoff(min, max time.Duration) Option {
	return func(s *settings) {
		if min <= 0 || max < min {
			s.fail("WithBackoff", "need 0 < min ≤ max, got min %v, max %v", min, max)
		}
		s.backoff.Min, s.backoff.Max = min, max
	}
}

// WithSlowBackoff sets when an outage counts as long and how far the delays
// then grow: once the broker has been away for after (default 10 min), the
// delays keep doubling up to max (default 1 min), so that a fleet does not
// hammer a broker that is gone for good. max must be at least WithBackoff's.
func WithSlowBackoff(after, max time.Duration) Option {
	return func(s *settings) {
		if after < 0 || max <= 0 {
			s.fail("WithSlowBackoff", "need after ≥ 0 and max > 0, got after %v, max %v", after, max)
		}
		s.backoff.Patience, s.backoff.SlowMax = after, max
	}
}

// WithReturnInterval sets how often, while connected to a broker other than
// the first, the bridge tries the ones it prefers (default 1 min).
func WithReturnInterval(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithReturnInterval", "%v is not positive", d)
		}
		s.returnInterval = d
	}
}

// WithShutdownTimeout bounds the graceful end of Run: publishing "offline"
// and disconnecting (default 3 s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithShutdownTimeout", "%v is not positive", d)
		}
		s.shutdownTimeout = d
	}
}

// WithStateDir sets the directory of the persistent outbox (see package
// outbox). Required: QoS ≥ 1 publications are stored there until the broker
// acknowledges them. One directory serves one bridge at a time.
func WithStateDir(dir string) Option {
	return func(s *settings) {
		if dir == "" {
			s.fail("WithStateDir", "empty directory")
		}
		s.stateDir = dir
	}
}

// WithOutboxLimits bounds the outbox: at most count messages and bytes of
// records (defaults outbox.DefaultMaxCount and outbox.DefaultMaxBytes).
func WithOutboxLimits(count int, bytes int64) Option {
	return func(s *settings) {
		if count <= 0 || bytes <= 0 {
			s.fail("WithOutboxLimits", "need positive bounds, got %d messages, %d bytes", count, bytes)
		}
		s.obMaxCount, s.obMaxBytes = count, bytes
	}
}

// WithOutboxOverflow says what a full outbox does: outbox.DropOldest (the
// default: the oldest queued message makes room, counted in
// Stats.Outbox.Dropped) or outbox.RejectNew (Publish fails with
// outbox.ErrFull, counted in Stats.Outbox.Rejected).
func WithOutboxOverflow(p outbox.Overflow) Option {
	return func(s *settings) {
		if p != outbox.DropOldest && p != outbox.RejectNew {
			s.fail("WithOutboxOverflow", "unknown policy %d", p)
		}
		s.obOverflow = p
	}
}

// WithOutboxSync sets the outbox's fsync policy (default
// outbox.SyncInterval(time.Second)); whatever the policy a publication
// survives a kill -9 once Publish has returned.
func WithOutboxSync(p outbox.SyncPolicy) Option {
	return func(s *settings) { s.obSync, s.obSyncSet = p, true }
}

// WithInflight sets how many QoS ≥ 1 publications may await the broker's
// acknowledgement at once (default 256).
func WithInflight(n int) Option {
	return func(s *settings) {
		if n < 1 || n > 65000 {
			s.fail("WithInflight", "%d is not in 1…65000", n)
		}
		s.inflight = n
	}
}

// WithQoS0Backlog bounds the QoS 0 messages that may wait for a busy loop
// (default 1024): past it, a QoS 0 message is dropped as it arrives, on
// paho's goroutine, and counted for each binding it was for
// (BindingStats.Shed, Stats.Inflow). It is what keeps a QoS 0 flood from
// growing memory while a task hogs the loop or the disk is slow. QoS 1 and 2
// messages are never dropped this way: they stay unacknowledged until the
// loop takes them, so the broker's in-flight window bounds them (Mosquitto's
// max_inflight_messages, 20 by default).
func WithQoS0Backlog(n int) Option {
	return func(s *settings) {
		if n < 1 {
			s.fail("WithQoS0Backlog", "%d is less than 1", n)
		}
		s.qos0Backlog = n
	}
}

// TLS configures TLS for the brokers given as ssl://, tls:// or mqtts://.
type TLS struct {
	// CAFile is a PEM bundle of the certificate authorities to trust; ""
	// trusts the system's.
	CAFile string
	// CertFile and KeyFile are the client certificate and its key (PEM),
	// for brokers that authenticate clients by certificate (mTLS). Both or
	// neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the broker's certificate;
	// "" uses the broker's host.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. Only for tests:
	// the bridge logs a warning on every connect.
	InsecureSkipVerify bool
}

// WithTLS sets the TLS configuration. The files are read by New.
func WithTLS(c TLS) Option {
	return func(s *settings) {
		if (c.CertFile == "") != (c.KeyFile == "") {
			s.fail("WithTLS", "CertFile and KeyFile go together, got only one")
		}
		s.tls = &c
	}
}

// WithUsername sets the MQTT user name.
func WithUsername(user string) Option {
	return func(s *settings) { s.username = user }
}

// WithPasswordFile reads the MQTT password from a file (trailing newlines
// removed), so that it appears neither in the configuration nor in the
// process list. New reads it; it is never logged.
func WithPasswordFile(path string) Option {
	return func(s *settings) {
		if path == "" {
			s.fail("WithPasswordFile", "empty path")
		}
		s.passwordFile = path
	}
}

// WithPasswordEnv reads the MQTT password from an environment variable,
// which must be set and non-empty. It is never logged.
func WithPasswordEnv(name string) Option {
	return func(s *settings) {
		if name == "" {
			s.fail("WithPasswordEnv", "empty variable name")
		}
		s.passwordEnv = name
	}
}

// WithLogger sets the logger; default the loop's.
func WithLogger(log *slog.Logger) Option {
	return func(s *settings) { s.logger = log }
}

// WithStatusInterval publishes the bridge's Stats as JSON on
// <base>/<node>/status (QoS 0, not retained) every d; 0, the default,
// publishes nothing.
func WithStatusInterval(d time.Duration) Option {
	return func(s *settings) {
		if d < 0 {
			s.fail("WithStatusInterval", "%v is negative", d)
		}
		s.statusInterval = d
	}
}

// WithHomeAssistant announces n to Home Assistant through MQTT discovery
// (see package hass). The bridge fills what n leaves empty: ID from the node
// id (characters Home Assistant refuses become '_'), Topics with the
// bridge's layout, AvailabilityTopic with <base>/<node>/availability. New
// validates the result; entity ids may not be one of the layout's own levels
// (availability, status, error, req, res, reply).
func WithHomeAssistant(n hass.Node) Option {
	return func(s *settings) { s.ha = &n }
}

// WithHABirthTopic sets the topic where Home Assistant publishes its birth
// message "online" (default "homeassistant/status").
func WithHABirthTopic(name string) Option {
	return func(s *settings) {
		if err := topic.CheckName(name); err != nil {
			s.fail("WithHABirthTopic", "%v", err)
		}
		s.haBirth = name
	}
}

// WithHABirthDelay bounds the random delay between Home Assistant's birth
// message and the bridge's announcement (default 2 s), which spreads the
// load when many nodes answer one birth.
func WithHABirthDelay(max time.Duration) Option {
	return func(s *settings) {
		if max < 0 {
			s.fail("WithHABirthDelay", "%v is negative", max)
		}
		s.haDelay = max
	}
}

// withoutQuickAck turns the TCP_QUICKACK cure off: for the benchmark that
// shows what it cures.
func withoutQuickAck() Option {
	return func(s *settings) { s.noQuickAck = true }
}

// withOnMessage calls fn for every message paho hands over, after the
// bridge has (on paho's goroutine), for tests that must know what arrived
// while the loop was held.
func withOnMessage(fn func(Message)) Option {
	return func(s *settings) { s.onMessage = fn }
}

// withJitter replaces the random numbers of the back-off, for tests.
func withJitter(r func() float64) Option {
	return func(s *settings) { s.jitter = r }
}

func defaultSettings() settings {
	return settings{
		base:           topic.DefaultBase,
		keepAlive:      DefaultKeepAlive,
		connectTimeout: DefaultConnectTimeout,
		backoff:        backoff.Default(),
		subRetry: backoff.Schedule{Min: DefaultSubscribeRetryMin, Max: DefaultSubscribeRetryMax,
			SlowMax: DefaultSubscribeRetryMax},
		jitter:          mrand.Float64,
		returnInterval:  DefaultReturnInterval,
		shutdownTimeout: DefaultShutdownTimeout,
		obMaxCount:      outbox.DefaultMaxCount,
		obMaxBytes:      outbox.DefaultMaxBytes,
		obSync:          outbox.DefaultSync,
		inflight:        DefaultInflight,
		qos0Backlog:     DefaultQoS0Backlog,
		haBirth:         hass.DefaultBirthTopic,
		haDelay:         DefaultHABirthDelay,
	}
}

// broker is one parsed broker address.
type broker struct {
	url  string // as given, for logs and Stats
	host string // host:port to dial
	tls  bool
}

// parseBroker checks one broker URL and adds the default port.
func parseBroker(raw string) (broker, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return broker{}, fmt.Errorf("broker %q: %w", raw, err)
	}
	var useTLS bool
	port := "1883"
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
	case "ssl", "tls", "mqtts", "tcps":
		useTLS, port = true, "8883"
	case "":
		return broker{}, fmt.Errorf("broker %q: no scheme (expected tcp://host:port or ssl://host:port)", raw)
	default:
		return broker{}, fmt.Errorf("broker %q: unsupported scheme %q (expected tcp, mqtt, ssl, tls or mqtts)", raw, u.Scheme)
	}
	if u.User != nil {
		return broker{}, fmt.Errorf("broker %q: credentials in the URL would be logged; use WithUsername and WithPasswordFile", u.Redacted())
	}
	if u.Hostname() == "" {
		return broker{}, fmt.Errorf("broker %q: no host", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return broker{}, fmt.Errorf("broker %q: unexpected path or query", raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return broker{url: raw, host: net.JoinHostPort(u.Hostname(), port), tls: useTLS}, nil
}

// secret holds a password; it never prints.
type secret string

func (secret) String() string             { return "[redacted]" }
func (secret) LogValue() slog.Value       { return slog.StringValue("[redacted]") }
func (secret) GoString() string           { return "[redacted]" }
func (s secret) reveal() string           { return string(s) }
func (secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// readPassword returns the password the options point at.
func (s *settings) readPassword() (secret, error) {
	switch {
	case s.passwordFile != "" && s.passwordEnv != "":
		return "", errors.New("WithPasswordFile and WithPasswordEnv: give one, not both")
	case s.passwordFile != "":
		b, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return "", fmt.Errorf("WithPasswordFile: %w", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("WithPasswordFile: %s is empty", s.passwordFile)
		}
		return secret(p), nil
	case s.passwordEnv != "":
		p, ok := os.LookupEnv(s.passwordEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("WithPasswordEnv: $%s is not set or empty", s.passwordEnv)
		}
		return secret(p), nil
	}
	return "", nil
}
