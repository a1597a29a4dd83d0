package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Option changes how Load and Parse work.
type Option func(*options)

type options struct {
	board       Board
	hostname    string
	hostnameSet bool
}

// WithBoard checks pins and buses against b (see Board).
func WithBoard(b Board) Option { return func(o *options) { o.board = b } }

// WithHostname sets the host name the default node id derives from,
// instead of os.Hostname.
func WithHostname(name string) Option {
	return func(o *options) { o.hostname, o.hostnameSet = name, true }
}

// Load reads and parses the configuration file at path (see Parse).
func Load(path string, opts ...Option) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	// One byte more than allowed tells a file at the limit from one beyond.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, opts...)
}

// Parse parses a configuration; name is the file's name for messages, and
// relative paths in the file (password_file, TLS files, state_dir) are
// taken from its directory.
//
// It returns the configuration with every default filled in, or Errors
// listing every problem found, each with its place. Nothing is ever
// half-applied: with an error the Config is nil.
func Parse(name string, data []byte, opts ...Option) (*Config, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	d := newDecoder(name)
	if len(data) > MaxFileSize {
		d.errorf(Pos{File: name}, "", "the file is larger than %d bytes", MaxFileSize)
		return nil, d.errs
	}
	if !utf8.Valid(data) {
		d.errorf(Pos{File: name}, "", "the file is not valid UTF-8")
		return nil, d.errs
	}
	body := parseDocument(d, data)
	if body == nil {
		return nil, sortErrors(d.errs)
	}
	d.collectAnchors(body)
	p := &parser{d: d, opts: o, dir: filepath.Dir(name), cfg: &Config{File: name}}
	p.parse(d.object("", d.nodePos(body), d.resolve("", body)))
	if len(d.errs) > 0 {
		return nil, sortErrors(d.errs)
	}
	return p.cfg, nil
}

// parser builds a Config from the decoded document.
type parser struct {
	d    *decoder
	opts options
	dir  string
	cfg  *Config
	devs []*devParse // per device, what the cross checks need
}

func (p *parser) parse(root *obj) {
	if root == nil {
		return
	}
	root.extensions = true
	root.hint("password", "a password is never written in the config: set mqtt.password_file or mqtt.password_env")
	root.hint("brokers", "brokers belong in the mqtt section")
	root.hint("device", "the key is devices (a list)")
	c := p.cfg
	p.mqtt(root.sub("mqtt"))
	p.homeAssistant(root.sub("homeassistant"))

	c.StateDir = DefaultStateDir
	if root.str("state_dir", &c.StateDir) {
		if c.StateDir == "" {
			_, at, _ := root.get("state_dir")
			root.errorf("state_dir", at, "empty path")
		}
		c.StateDir = p.path(c.StateDir)
	}
	p.log(root.sub("log"))
	c.ShutdownTimeout = DefaultShutdownTimeout
	root.duration("shutdown_timeout", &c.ShutdownTimeout, 100*time.Millisecond, 10*time.Minute)
	p.devices(root)
	p.debug(root.sub("debug"))
	root.done()
	p.crossCheck()
}

// debug reads the debug section: switches for testing, all off unless set.
func (p *parser) debug(o *obj) {
	o.boolean("allow_hang", &p.cfg.Debug.AllowHang)
	o.done()
}

// path makes a relative path relative to the configuration's directory.
func (p *parser) path(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.dir, s)
}

// file reads key as the path of a file that must exist.
func (p *parser) file(o *obj, key string, dst *string) bool {
	var s string
	if !o.str(key, &s) {
		return false
	}
	_, at, _ := o.get(key)
	if s == "" {
		o.errorf(key, at, "empty path")
		return false
	}
	full := p.path(s)
	st, err := os.Stat(full)
	switch {
	case err != nil:
		o.errorf(key, at, "%s", fileProblem(full, err))
		return false
	case st.IsDir():
		o.errorf(key, at, "%q is a directory, not a file", full)
		return false
	}
	*dst = full
	return true
}

func fileProblem(path string, err error) string {
	switch {
	case os.IsNotExist(err):
		return fmt.Sprintf("%q does not exist", path)
	case os.IsPermission(err):
		return fmt.Sprintf("%q cannot be read (permission denied)", path)
	}
	return fmt.Sprintf("%q: %v", path, err)
}

func (p *parser) mqtt(o *obj) {
	m := &p.cfg.MQTT
	m.Brokers = []string{DefaultBroker}
	m.BaseTopic = DefaultBaseTopic
	m.KeepAlive = DefaultKeepAlive
	m.ConnectTimeout = DefaultConnectTimeout
	m.Backoff = Backoff{DefaultBackoffMin, DefaultBackoffMax}
	m.ReturnInterval = DefaultReturnInterval
	m.StatusInterval = DefaultStatusInterval

	o.hint("password", "a password is never written in the config: use password_file (a file only the agent can read) or password_env (an environment variable)")
	o.hint("host", "give the broker as a URL in brokers, such as brokers: [tcp://HOST:1883]")
	o.hint("port", "give the port in the broker's URL, such as brokers: [tcp://localhost:1884]")
	o.hint("user", "the key is username")

	tlsBroker := false
	if n, at, ok := o.get("brokers"); ok {
		if _, isText := scalarText(n); isText {
			o.errorf("brokers", at, "expected a list of broker URLs, such as [%s]", n.GetToken().Value)
		} else {
			var list []string
			if o.strings("brokers", &list) {
				_, pos, _ := o.list("brokers")
				if len(list) == 0 {
					o.errorf("brokers", at, "empty list: give at least one broker, such as %s", DefaultBroker)
				}
				good := true
				first := map[string]int{}
				for i, b := range list {
					useTLS, err := checkBroker(b)
					if err != nil {
						p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", o.at("brokers"), i), "%v", err)
						good = false
						continue
					}
					tlsBroker = tlsBroker || useTLS
					if j, dup := first[b]; dup {
						p.d.errorf(pos[i], fmt.Sprintf("%s[%d]", o.at("brokers"), i), "%q is listed twice (first as brokers[%d])", b, j)
						good = false
					} else {
						first[b] = i
					}
				}
				if good && len(list) > 0 {
					m.Brokers = list
				}
			}
		}
	}

	nodeSet := o.str("node_id", &m.NodeID)
	if nodeSet {
		_, at, _ := o.get("node_id")
		if msg := checkID(m.NodeID); msg != "" {
			o.errorf("node_id", at, "%q %s (it is a topic level and the Home Assistant device id)", m.NodeID, msg)
		}
	} else {
		m.NodeID = p.defaultNodeID()
	}
	if o.str("base_topic", &m.BaseTopic) {
		_, at, _ := o.get("base_topic")
		if msg := checkTopicLevels(m.BaseTopic); msg != "" {
			o.errorf("base_topic", at, "%q %s", m.BaseTopic, msg)
		}
	}
	if o.str("client_id", &m.ClientID) {
		_, at, _ := o.get("client_id")
		switch {
		case m.ClientID == "":
			o.errorf("client_id", at, "empty: leave the key out for the default, the node id")
		case strings.ContainsRune(m.ClientID, 0) || len(m.ClientID) > 65535:
			o.errorf("client_id", at, "must be at most 65535 bytes without NUL")
		}
	}
	if m.ClientID == "" {
		// The node id, so a broker ACL can use %c as well as %u (docs/mqtt.md).
		m.ClientID = m.NodeID
	}
	if o.duration("keepalive", &m.KeepAlive, time.Second, 65535*time.Second) && m.KeepAlive%time.Second != 0 {
		_, at, _ := o.get("keepalive")
		o.errorf("keepalive", at, "%v: MQTT counts the keep-alive in whole seconds", m.KeepAlive)
	}
	o.duration("connect_timeout", &m.ConnectTimeout, 100*time.Millisecond, 10*time.Minute)
	if b := o.sub("backoff"); b != nil {
		minSet := b.duration("min", &m.Backoff.Min, time.Millisecond, time.Hour)
		maxSet := b.duration("max", &m.Backoff.Max, time.Millisecond, 24*time.Hour)
		if m.Backoff.Max < m.Backoff.Min {
			key := "max"
			if !maxSet && minSet {
				key = "min"
			}
			_, at, _ := b.get(key)
			b.errorf(key, at, "the maximum %v is shorter than the minimum %v", m.Backoff.Max, m.Backoff.Min)
		}
		b.done()
	}
	o.duration("return_interval", &m.ReturnInterval, time.Second, 24*time.Hour)
	o.boolean("clean_session", &m.CleanSession)
	if o.str("username", &m.Username) && m.Username == "" {
		_, at, _ := o.get("username")
		o.errorf("username", at, "empty: leave the key out to connect without a user name")
	}
	fileSet := p.file(o, "password_file", &m.PasswordFile)
	if o.str("password_env", &m.PasswordEnv) {
		_, at, _ := o.get("password_env")
		if !envName(m.PasswordEnv) {
			o.errorf("password_env", at, "%q is not an environment variable name (letters, digits and _, not starting with a digit)", m.PasswordEnv)
		}
		if o.has("password_file") {
			o.errorf("password_env", at, "password_file and password_env exclude each other: choose one")
		}
	}
	if (fileSet || m.PasswordEnv != "") && m.Username == "" {
		key := "password_file"
		if !fileSet {
			key = "password_env"
		}
		_, at, _ := o.get(key)
		o.errorf(key, at, "a password needs a username (MQTT sends no password without one)")
	}
	if t := o.sub("tls"); t != nil {
		m.TLS = &TLS{}
		p.file(t, "ca_file", &m.TLS.CAFile)
		p.file(t, "cert_file", &m.TLS.CertFile)
		p.file(t, "key_file", &m.TLS.KeyFile)
		if t.has("cert_file") != t.has("key_file") {
			missing := "key_file"
			if !t.has("cert_file") {
				missing = "cert_file"
			}
			t.missing(missing, "cert_file and key_file go together (a client certificate and its key)")
		}
		if t.str("server_name", &m.TLS.ServerName) && m.TLS.ServerName == "" {
			_, at, _ := t.get("server_name")
			t.errorf("server_name", at, "empty: leave the key out to check the broker's host name")
		}
		t.boolean("insecure_skip_verify", &m.TLS.InsecureSkipVerify)
		t.done()
		if !tlsBroker {
			o.errorf("tls", o.keyPos("tls"), "no broker uses TLS: give TLS brokers as ssl://, tls://, mqtts:// or tcps:// (port 8883 by default)")
		}
	}
	if o.duration("status_interval", &m.StatusInterval, 0, 24*time.Hour) && m.StatusInterval > 0 && m.StatusInterval < time.Second {
		_, at, _ := o.get("status_interval")
		o.errorf("status_interval", at, "%v is shorter than 1s (0 turns the status off)", m.StatusInterval)
	}
	o.done()
}

// checkBroker checks a broker URL the way the bridge will read it and says
// whether it uses TLS.
func checkBroker(raw string) (bool, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return false, fmt.Errorf("%q is not a URL: %v", raw, unwrapURLError(err))
	}
	useTLS := false
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
	case "ssl", "tls", "mqtts", "tcps":
		useTLS = true
	case "":
		return false, fmt.Errorf("%q has no scheme: write tcp://%s:1883 (or ssl://…:8883 for TLS)", raw, strings.TrimSuffix(raw, "/"))
	case "ws", "wss", "http", "https":
		return false, fmt.Errorf("%q: scheme %q is not supported (MQTT over websockets or HTTP is not); use tcp, mqtt, ssl, tls, mqtts or tcps", raw, u.Scheme)
	default:
		return false, fmt.Errorf("%q: unsupported scheme %q (use tcp, mqtt, ssl, tls, mqtts or tcps)", raw, u.Scheme)
	}
	if u.User != nil {
		return false, fmt.Errorf("%q: credentials in the URL would be logged; use username and password_file", u.Redacted())
	}
	if u.Hostname() == "" {
		return false, fmt.Errorf("%q has no host", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return false, fmt.Errorf("%q: a broker URL has no path or query", raw)
	}
	if ps := u.Port(); ps != "" {
		if n, err := strconv.Atoi(ps); err != nil || n < 1 || n > 65535 {
			return false, fmt.Errorf("%q: port %q is not 1 to 65535", raw, ps)
		}
	}
	return useTLS, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// envName reports whether s is a portable environment variable name.
func envName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkID says what is wrong with an id used as one topic level and a Home
// Assistant id, or "".
func checkID(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 64:
		return "is longer than 64 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			switch c {
			case '+', '#':
				return fmt.Sprintf("contains the MQTT wildcard %q; use only letters, digits, _ and -", c)
			case '/':
				return "contains '/', which would make it several topic levels; use only letters, digits, _ and -"
			case '$':
				return "contains '$' (brokers reserve topics starting with it); use only letters, digits, _ and -"
			}
			return fmt.Sprintf("contains %q; use only letters, digits, _ and -", string(rune(c)))
		}
	}
	return ""
}

// checkTopicLevels says what is wrong with a topic of one or more levels
// that the node publishes under, or "".
func checkTopicLevels(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > 1024:
		return "is longer than 1024 bytes"
	case strings.ContainsAny(s, "+#"):
		return "contains an MQTT wildcard (+ or #): a topic to publish to cannot"
	case strings.ContainsRune(s, 0):
		return "contains a NUL character"
	case s[0] == '$':
		return "starts with '$', which brokers reserve for their own topics ($SYS)"
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return "starts or ends with '/', which makes an empty topic level"
	case strings.Contains(s, "//"):
		return "has an empty topic level (//)"
	}
	return ""
}

// defaultNodeID derives the node id from the host name: lower case, with
// every character outside [a-z0-9_-] replaced by '_'.
func (p *parser) defaultNodeID() string {
	h := p.opts.hostname
	if !p.opts.hostnameSet {
		h, _ = os.Hostname()
	}
	h, _, _ = strings.Cut(h, ".") // the short name
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	id := strings.Trim(b.String(), "_")
	if id == "" {
		return DefaultNodeID
	}
	return id
}

func (p *parser) homeAssistant(o *obj) {
	h := &p.cfg.HomeAssistant
	h.Enabled = true
	h.DiscoveryPrefix = DefaultDiscoveryPrefix
	h.BirthTopic = DefaultBirthTopic
	o.boolean("enabled", &h.Enabled)
	if o.str("discovery_prefix", &h.DiscoveryPrefix) {
		_, at, _ := o.get("discovery_prefix")
		if msg := checkTopicLevels(h.DiscoveryPrefix); msg != "" {
			o.errorf("discovery_prefix", at, "%q %s", h.DiscoveryPrefix, msg)
		}
	}
	if o.str("birth_topic", &h.BirthTopic) {
		_, at, _ := o.get("birth_topic")
		if msg := checkTopicLevels(h.BirthTopic); msg != "" {
			o.errorf("birth_topic", at, "%q %s", h.BirthTopic, msg)
		}
	}
	if o.str("device_name", &h.DeviceName) {
		_, at, _ := o.get("device_name")
		if strings.TrimSpace(h.DeviceName) == "" {
			o.errorf("device_name", at, "empty or blank: leave the key out to use the node id")
		}
	}
	if h.DeviceName == "" {
		h.DeviceName = p.cfg.MQTT.NodeID
	}
	if o.str("area", &h.Area) {
		_, at, _ := o.get("area")
		if strings.TrimSpace(h.Area) == "" {
			o.errorf("area", at, "empty or blank: leave the key out for no area")
		}
	}
	o.done()
}

func (p *parser) log(o *obj) {
	l := &p.cfg.Log
	l.Level, l.Format = slog.LevelInfo, LogText
	var level string
	if o.enum("level", &level, "debug", "info", "warn", "error") {
		l.Level = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[level]
	}
	var format string
	if o.enum("format", &format, string(LogText), string(LogJSON)) {
		l.Format = LogFormat(format)
	}
	o.done()
}
