package mosquitto

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Container ports of the listeners. The plain listener always exists: the
// readiness probe and the in-container clients use it.
const (
	PlainPort = 1883
	TLSPort   = 8883
)

// Config describes one broker. The zero value is Mosquitto's stock
// behaviour (Nagle on: no set_tcp_nodelay, no persistence) plus a listener
// on every container interface and anonymous clients allowed, which a
// broker in a container needs to be reachable at all.
type Config struct {
	// Name labels the broker in logs and, on a Docker network, is its host
	// name there (see StartBridgedPair). Default "broker".
	Name string

	// Persistence keeps retained messages, persistent sessions and their
	// queued QoS 1/2 messages across Stop and Start (Mosquitto writes its
	// database on SIGTERM, which Stop sends).
	Persistence bool

	// TLS adds a TLS listener (container port 8883, its own host port).
	TLS *TLS

	// Users turns on a password file with these user names and passwords
	// and refuses anonymous clients.
	Users map[string]string

	// ACL is the content of an acl_file (Mosquitto's syntax). Without Users,
	// anonymous clients stay allowed and the ACL's lines before any `user`
	// line govern them.
	ACL string

	// DynSec turns on the dynamic-security plugin with these clients and
	// roles; it cannot be combined with Users or ACL.
	DynSec *DynSec

	// Bridge makes this broker forward topics to another one with
	// Mosquitto's own bridge (usually set by StartBridgedPair).
	Bridge *Bridge

	// Extra lines are appended to mosquitto.conf as they are (listener
	// options would attach to the last listener: the TLS one if any).
	Extra []string
}

// TLS is the TLS listener's PEM material and client-certificate policy.
type TLS struct {
	CA   []byte // certificate(s) trusted for client certificates
	Cert []byte // the broker's certificate (valid for 127.0.0.1)
	Key  []byte // the broker's private key

	// RequireClientCert makes the listener refuse clients without a
	// certificate signed by CA (mutual TLS).
	RequireClientCert bool

	// UseIdentityAsUsername takes the client certificate's common name as
	// the MQTT user name (for ACLs); it implies RequireClientCert.
	UseIdentityAsUsername bool
}

// DynSec is the dynamic-security plugin's initial state.
type DynSec struct {
	Clients []DynSecClient
	Roles   []DynSecRole
	// DenyByDefault flips the plugin's defaults for publishing a message to
	// the broker and for subscribing: denied unless a role allows (the
	// plugin's own default). When false, both are allowed by default and
	// roles deny.
	DenyByDefault bool
}

// DynSecClient is one client of the plugin.
type DynSecClient struct {
	Username, Password string
	Roles              []string
}

// DynSecRole is one role with its ACL entries.
type DynSecRole struct {
	Name string
	ACLs []DynSecACL
}

// DynSecACL is one ACL entry of a role. Type is one of the plugin's ACL
// types: publishClientSend, publishClientReceive, subscribeLiteral,
// subscribePattern, unsubscribeLiteral, unsubscribePattern.
type DynSecACL struct {
	Type  string
	Topic string
	Allow bool
}

// Bridge is a Mosquitto bridge connection from this broker to a remote one.
type Bridge struct {
	// Address is host:port of the remote broker as this container reaches
	// it (on a shared Docker network: its Name and 1883).
	Address string
	// Topics are `topic` lines without the keyword, e.g. "# both 1".
	// Default: "# both 1".
	Topics []string
	// ClientID is the bridge's client id at the remote broker; default
	// "<Name>-bridge".
	ClientID string
	// RemoteUsername and RemotePassword authenticate at the remote broker.
	RemoteUsername, RemotePassword string
}

// harnessUser is the account the harness's own clients (readiness probe,
// in-container mosquitto_pub/sub) use on brokers with authentication; its
// password is random per broker.
const harnessUser = "harness"

// rendered is a broker's configuration as files for the container.
type rendered struct {
	conf  string
	files map[string][]byte // container path -> content
	// harness credentials for in-container clients ("" when anonymous works)
	user, password string
}

// render turns cfg into mosquitto.conf and the files it names.
func (cfg Config) render(name string) (rendered, error) {
	r := rendered{files: map[string][]byte{}}
	if cfg.DynSec != nil && (cfg.Users != nil || cfg.ACL != "") {
		return r, errors.New("mosquitto: DynSec cannot be combined with Users or ACL")
	}
	if cfg.TLS != nil && (len(cfg.TLS.CA) == 0 || len(cfg.TLS.Cert) == 0 || len(cfg.TLS.Key) == 0) {
		return r, errors.New("mosquitto: TLS needs CA, Cert and Key")
	}
	auth := cfg.Users != nil || cfg.ACL != "" || cfg.DynSec != nil
	if auth {
		r.user, r.password = harnessUser, randomText()
	}

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# %s: written by the edgeagent integration harness.", name)
	line("# Mosquitto's stock behaviour (Nagle on: no set_tcp_nodelay), plus a")
	line("# listener on every container interface.")
	line("log_dest stderr")
	line("allow_anonymous %t", cfg.Users == nil && cfg.DynSec == nil)
	if cfg.Persistence {
		line("persistence true")
		line("persistence_location %s/", dataDir)
	}
	if auth && cfg.DynSec == nil {
		users := map[string]string{}
		maps.Copy(users, cfg.Users)
		users[harnessUser] = r.password
		pw, err := passwordFile(users)
		if err != nil {
			return r, err
		}
		r.files[configDir+"/passwd"] = pw
		line("password_file %s/passwd", configDir)
	}
	if cfg.ACL != "" {
		acl := strings.TrimRight(cfg.ACL, "\n") + "\n\n# the harness's own clients\nuser " + harnessUser + "\ntopic readwrite #\ntopic read $SYS/#\n"
		r.files[configDir+"/acl"] = []byte(acl)
		line("acl_file %s/acl", configDir)
	}
	if cfg.DynSec != nil {
		js, err := cfg.DynSec.json(r.password)
		if err != nil {
			return r, err
		}
		// The plugin rewrites its file on changes: it lives in the data
		// directory, which the mosquitto user owns.
		r.files[dataDir+"/dynamic-security.json"] = js
		line("plugin %s", dynsecPlugin)
		line("plugin_opt_config_file %s/dynamic-security.json", dataDir)
	}
	if br := cfg.Bridge; br != nil {
		if br.Address == "" {
			return r, errors.New("mosquitto: Bridge needs an Address")
		}
		id := br.ClientID
		if id == "" {
			id = name + "-bridge"
		}
		line("connection %s", id)
		line("address %s", br.Address)
		line("remote_clientid %s", id)
		line("cleansession false")
		// Reconnect after a second, backing off to five: tests restart the
		// remote broker and want the bridge back quickly.
		line("restart_timeout 1 5")
		line("notifications true")
		if br.RemoteUsername != "" {
			line("remote_username %s", br.RemoteUsername)
			line("remote_password %s", br.RemotePassword)
		}
		topics := br.Topics
		if len(topics) == 0 {
			topics = []string{"# both 1"}
		}
		for _, t := range topics {
			line("topic %s", t)
		}
	}
	line("listener %d 0.0.0.0", PlainPort)
	if t := cfg.TLS; t != nil {
		r.files[configDir+"/ca.pem"] = t.CA
		r.files[configDir+"/server.pem"] = t.Cert
		r.files[configDir+"/server.key"] = t.Key
		line("listener %d 0.0.0.0", TLSPort)
		line("cafile %s/ca.pem", configDir)
		line("certfile %s/server.pem", configDir)
		line("keyfile %s/server.key", configDir)
		if t.RequireClientCert || t.UseIdentityAsUsername {
			line("require_certificate true")
		}
		if t.UseIdentityAsUsername {
			line("use_identity_as_username true")
		}
	}
	for _, l := range cfg.Extra {
		line("%s", l)
	}
	r.conf = b.String()
	return r, nil
}

// randomText is a random password for the harness's account.
func randomText() string { return rand.Text() }

// pbkdf2Iterations and the salt length are what mosquitto_passwd and
// mosquitto_ctrl use (Mosquitto 2.0's "$7$" PBKDF2-SHA512 format).
const (
	pbkdf2Iterations = 101
	saltLen          = 12
)

// hashPassword returns a random salt and the PBKDF2-SHA512 hash of pw.
func hashPassword(pw string) (salt, hash []byte, err error) {
	salt = make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, err
	}
	hash, err = pbkdf2.Key(sha512.New, pw, salt, pbkdf2Iterations, sha512.Size)
	return salt, hash, err
}

// passwordFile renders users in mosquitto_passwd's format, sorted by name.
func passwordFile(users map[string]string) ([]byte, error) {
	var b strings.Builder
	for _, u := range slices.Sorted(maps.Keys(users)) {
		if u == "" || strings.ContainsAny(u, ":\n") {
			return nil, fmt.Errorf("mosquitto: user name %q cannot go in a password file", u)
		}
		salt, hash, err := hashPassword(users[u])
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString
		fmt.Fprintf(&b, "%s:$7$%d$%s$%s\n", u, pbkdf2Iterations, enc(salt), enc(hash))
	}
	return []byte(b.String()), nil
}

// json renders the plugin's config file, with the harness's account (all
// topics, $SYS and the plugin's control topic) added.
func (d *DynSec) json(harnessPassword string) ([]byte, error) {
	type roleRef struct {
		Rolename string `json:"rolename"`
	}
	type client struct {
		Username   string    `json:"username"`
		Password   string    `json:"password"`
		Salt       string    `json:"salt"`
		Iterations int       `json:"iterations"`
		Roles      []roleRef `json:"roles"`
	}
	type acl struct {
		Type  string `json:"acltype"`
		Topic string `json:"topic"`
		Allow bool   `json:"allow"`
	}
	type role struct {
		Rolename string `json:"rolename"`
		ACLs     []acl  `json:"acls"`
	}
	doc := struct {
		Clients []client        `json:"clients"`
		Roles   []role          `json:"roles"`
		Groups  []struct{}      `json:"groups"`
		Default map[string]bool `json:"defaultACLAccess"`
	}{
		Groups: []struct{}{},
		Default: map[string]bool{
			"publishClientSend": !d.DenyByDefault, "publishClientReceive": true,
			"subscribe": !d.DenyByDefault, "unsubscribe": true,
		},
	}
	clients := append([]DynSecClient{{Username: harnessUser, Password: harnessPassword, Roles: []string{harnessUser}}}, d.Clients...)
	seen := map[string]bool{}
	for _, c := range clients {
		if seen[c.Username] {
			return nil, fmt.Errorf("mosquitto: DynSec client %q twice (%q is the harness's)", c.Username, harnessUser)
		}
		seen[c.Username] = true
		salt, hash, err := hashPassword(c.Password)
		if err != nil {
			return nil, err
		}
		cl := client{Username: c.Username, Iterations: pbkdf2Iterations,
			Salt: base64.StdEncoding.EncodeToString(salt), Password: base64.StdEncoding.EncodeToString(hash), Roles: []roleRef{}}
		for _, r := range c.Roles {
			cl.Roles = append(cl.Roles, roleRef{r})
		}
		doc.Clients = append(doc.Clients, cl)
	}
	var all []acl
	for _, topic := range []string{"#", "$SYS/#", "$CONTROL/dynamic-security/#"} {
		for _, typ := range []string{"publishClientSend", "publishClientReceive", "subscribePattern", "unsubscribePattern"} {
			all = append(all, acl{typ, topic, true})
		}
	}
	doc.Roles = append(doc.Roles, role{harnessUser, all})
	for _, r := range d.Roles {
		if r.Name == harnessUser {
			return nil, fmt.Errorf("mosquitto: DynSec role %q is the harness's", r.Name)
		}
		ro := role{Rolename: r.Name, ACLs: []acl{}}
		for _, a := range r.ACLs {
			ro.ACLs = append(ro.ACLs, acl(a))
		}
		doc.Roles = append(doc.Roles, ro)
	}
	return json.MarshalIndent(doc, "", "\t")
}
