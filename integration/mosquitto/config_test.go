package mosquitto

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestRenderStock(t *testing.T) {
	r, err := Config{}.render("broker")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listener 1883 0.0.0.0\n", "allow_anonymous true\n", "log_dest stderr\n"} {
		if !strings.Contains(r.conf, want) {
			t.Errorf("stock config lacks %q:\n%s", want, r.conf)
		}
	}
	// Stock behaviour: Nagle on, no persistence, nothing else.
	for _, unwanted := range []string{"set_tcp_nodelay", "persistence", "password_file", "acl_file", "plugin", "connection", "8883"} {
		if strings.Contains(r.conf, unwanted+" ") {
			t.Errorf("stock config sets %s:\n%s", unwanted, r.conf)
		}
	}
	if len(r.files) != 0 || r.user != "" {
		t.Errorf("stock config has files %v or a harness account %q", r.files, r.user)
	}
}

func TestRenderVariants(t *testing.T) {
	ca, cert, key := []byte("ca"), []byte("cert"), []byte("key")
	cases := []struct {
		name      string
		cfg       Config
		want      []string
		files     []string
		harness   bool
		anonymous bool
	}{
		{"persistence", Config{Persistence: true}, []string{"persistence true\n", "persistence_location /mosquitto/data/\n"}, nil, false, true},
		{"password", Config{Users: map[string]string{"node": "pw"}}, []string{"password_file /mosquitto/config/passwd\n"}, []string{"/mosquitto/config/passwd"}, true, false},
		{"acl without users", Config{ACL: "topic read x/#\n"}, []string{"acl_file /mosquitto/config/acl\n", "password_file"}, []string{"/mosquitto/config/acl", "/mosquitto/config/passwd"}, true, true},
		{"dynsec", Config{DynSec: &DynSec{}}, []string{"plugin /usr/lib/mosquitto_dynamic_security.so\n", "plugin_opt_config_file /mosquitto/data/dynamic-security.json\n"}, []string{"/mosquitto/data/dynamic-security.json"}, true, false},
		{"tls", Config{TLS: &TLS{CA: ca, Cert: cert, Key: key}}, []string{"listener 8883 0.0.0.0\ncafile /mosquitto/config/ca.pem\ncertfile /mosquitto/config/server.pem\nkeyfile /mosquitto/config/server.key\n"}, []string{"/mosquitto/config/ca.pem", "/mosquitto/config/server.pem", "/mosquitto/config/server.key"}, false, true},
		{"mtls", Config{TLS: &TLS{CA: ca, Cert: cert, Key: key, UseIdentityAsUsername: true}}, []string{"keyfile /mosquitto/config/server.key\nrequire_certificate true\nuse_identity_as_username true\n"}, nil, false, true},
		{"bridge", Config{Bridge: &Bridge{Address: "central:1883", RemoteUsername: "u", RemotePassword: "p"}}, []string{"connection site-bridge\naddress central:1883\nremote_clientid site-bridge\n", "remote_username u\nremote_password p\n", "topic # both 1\n"}, nil, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.cfg.render("site")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(r.conf, w) {
					t.Errorf("config lacks %q:\n%s", w, r.conf)
				}
			}
			for _, f := range c.files {
				if _, ok := r.files[f]; !ok {
					t.Errorf("no file %s among %d", f, len(r.files))
				}
			}
			if (r.user != "") != c.harness || (r.user != "" && r.password == "") {
				t.Errorf("harness account %q/%q, want one: %t", r.user, r.password, c.harness)
			}
			if got := strings.Contains(r.conf, "allow_anonymous true\n"); got != c.anonymous {
				t.Errorf("allow_anonymous true: %t, want %t", got, c.anonymous)
			}
			// Listener options must follow their listener line.
			if i := strings.Index(r.conf, "require_certificate"); i >= 0 && i < strings.Index(r.conf, "listener 8883") {
				t.Errorf("require_certificate before the TLS listener:\n%s", r.conf)
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, cfg := range map[string]Config{
		"dynsec with users":     {DynSec: &DynSec{}, Users: map[string]string{"a": "b"}},
		"dynsec with acl":       {DynSec: &DynSec{}, ACL: "topic x"},
		"tls without key":       {TLS: &TLS{CA: []byte("a"), Cert: []byte("b")}},
		"bridge without addr":   {Bridge: &Bridge{}},
		"user name with colon":  {Users: map[string]string{"a:b": "c"}},
		"dynsec harness client": {DynSec: &DynSec{Clients: []DynSecClient{{Username: harnessUser}}}},
		"dynsec harness role":   {DynSec: &DynSec{Roles: []DynSecRole{{Name: harnessUser}}}},
	} {
		if _, err := cfg.render("b"); err == nil {
			t.Errorf("%s: rendered without an error", name)
		}
	}
}

// passwdLine is mosquitto_passwd's "$7$" line: PBKDF2-SHA512.
var passwdLine = regexp.MustCompile(`^([^:]+):\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$`)

// verifyPasswd checks pw against one password-file line the way Mosquitto
// does.
func verifyPasswd(t *testing.T, line, pw string) bool {
	t.Helper()
	m := passwdLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a $7$ password line: %q", line)
	}
	salt, err1 := base64.StdEncoding.DecodeString(m[3])
	hash, err2 := base64.StdEncoding.DecodeString(m[4])
	if err1 != nil || err2 != nil || m[2] != "101" || len(salt) != 12 || len(hash) != 64 {
		t.Fatalf("password line %q: iterations %s, salt %d bytes (%v), hash %d bytes (%v)", line, m[2], len(salt), err1, len(hash), err2)
	}
	got, err := pbkdf2.Key(sha512.New, pw, salt, 101, 64)
	if err != nil {
		t.Fatal(err)
	}
	return string(got) == string(hash)
}

func TestPasswordFile(t *testing.T) {
	// Written by mosquitto_passwd 2.0.11 for user "user", password "pass":
	// the verifier agrees with Mosquitto's own tool.
	const fromMosquitto = "user:$7$101$91wlCxCt62nKRv6z$TuuiaSm/LS4f3mK/T0hdjJIfjSKBFNr2V67wi0gzNb2sn33vBovqN60csZuHnK8kkRTjCcrG0FQUCRH5HMx4IA=="
	if !verifyPasswd(t, fromMosquitto, "pass") || verifyPasswd(t, fromMosquitto, "wrong") {
		t.Fatal("the verifier disagrees with mosquitto_passwd")
	}
	out, err := passwordFile(map[string]string{"zed": "z pw", "alice": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alice:") || !strings.HasPrefix(lines[1], "zed:") {
		t.Fatalf("password file not one sorted line per user:\n%s", out)
	}
	if !verifyPasswd(t, lines[0], "secret") || !verifyPasswd(t, lines[1], "z pw") || verifyPasswd(t, lines[0], "z pw") {
		t.Error("generated lines do not verify with their passwords only")
	}
}

func TestDynSecJSON(t *testing.T) {
	d := &DynSec{
		DenyByDefault: true,
		Clients:       []DynSecClient{{Username: "node", Password: "pw", Roles: []string{"r"}}},
		Roles:         []DynSecRole{{Name: "r", ACLs: []DynSecACL{{Type: "subscribePattern", Topic: "a/#", Allow: true}}}},
	}
	js, err := d.json("harness pw")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Clients []struct {
			Username, Password, Salt string
			Iterations               int
			Roles                    []struct{ Rolename string }
		}
		Roles []struct {
			Rolename string
			ACLs     []struct {
				ACLType, Topic string
				Allow          bool
			} `json:"acls"`
		}
		DefaultACLAccess map[string]bool
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Clients) != 2 || doc.Clients[0].Username != harnessUser || doc.Clients[1].Username != "node" ||
		doc.Clients[1].Iterations != 101 || len(doc.Clients[1].Roles) != 1 || doc.Clients[1].Roles[0].Rolename != "r" {
		t.Errorf("clients: %+v", doc.Clients)
	}
	salt, _ := base64.StdEncoding.DecodeString(doc.Clients[1].Salt)
	hash, _ := pbkdf2.Key(sha512.New, "pw", salt, 101, 64)
	if base64.StdEncoding.EncodeToString(hash) != doc.Clients[1].Password {
		t.Error("client password is not PBKDF2-SHA512 of its salt")
	}
	if len(doc.Roles) != 2 || doc.Roles[1].Rolename != "r" || len(doc.Roles[1].ACLs) != 1 || doc.Roles[1].ACLs[0].ACLType != "subscribePattern" {
		t.Errorf("roles: %+v", doc.Roles)
	}
	if doc.DefaultACLAccess["subscribe"] || doc.DefaultACLAccess["publishClientSend"] || !doc.DefaultACLAccess["publishClientReceive"] {
		t.Errorf("deny-by-default access: %v", doc.DefaultACLAccess)
	}
}
