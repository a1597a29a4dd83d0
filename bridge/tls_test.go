package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// testPKI is a certificate authority with a server and a client
// certificate, generated for the test, in PEM files.
type testPKI struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	serverTLS                                            *tls.Config
	pool                                                 *x509.CertPool
}

func newPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sDER, sKey := issue("broker", 2, x509.ExtKeyUsageServerAuth)
	cDER, cKey := issue("edgeagent-node", 3, x509.ExtKeyUsageClientAuth)
	p := &testPKI{
		caFile:     write("ca.pem", "CERTIFICATE", caDER),
		serverCert: write("server.pem", "CERTIFICATE", sDER),
		serverKey:  write("server.key", "EC PRIVATE KEY", keyDER(sKey)),
		clientCert: write("client.pem", "CERTIFICATE", cDER),
		clientKey:  write("client.key", "EC PRIVATE KEY", keyDER(cKey)),
		pool:       x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	p.serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return p
}

// selfPing returns a set-up and a body that check the link both ways: the
// node subscribes to a topic of its own, publishes on it at QoS 1 and
// receives what it published.
func selfPing() (func(*Bridge) error, func(*loop.Task, *Bridge) error) {
	q := primitives.NewQueue[Message](1)
	setup := func(b *Bridge) error {
		return b.Subscribe(b.Topics().Command("ping"), q, Sub{QoS: 1})
	}
	body := func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		if err := b.Publish(tk, b.Topics().Command("ping"), []byte("ping"), Pub{QoS: 1}); err != nil {
			return err
		}
		m, err := q.Get(tk)
		if err != nil {
			return err
		}
		if string(m.Payload) != "ping" {
			return fmt.Errorf("ping: %s", m.Payload)
		}
		return nil
	}
	return setup, body
}

// pingScenario runs selfPing against a bridge built with opts.
func pingScenario(t *testing.T, opts []Option) (*Bridge, *logBuf) {
	setup, body := selfPing()
	return scenario(t, opts, setup, body)
}

// waitFailures waits until the bridge has failed to connect n times (and
// checks it never connected).
func waitFailures(tk *loop.Task, b *Bridge, n uint64) error {
	return waitStats(tk, b, func(s Stats) bool {
		return s.ConnectFailures >= n || s.Connected
	})
}

func TestTLS(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	br := startBroker(t, brokerOpts{TLS: pki.serverTLS})
	url := "ssl://" + br.Addr()
	t.Run("CA file", func(t *testing.T) {
		pingScenario(t, append(fastOpts(t, "n1", url), WithTLS(TLS{CAFile: pki.caFile})))
	})
	t.Run("unknown CA refused", func(t *testing.T) {
		other := newPKI(t, t.TempDir())
		_, lb := scenario(t, append(fastOpts(t, "n2", url), WithTLS(TLS{CAFile: other.caFile})), nil,
			func(tk *loop.Task, b *Bridge) error {
				if err := waitFailures(tk, b, 2); err != nil {
					return err
				}
				if b.Connected() {
					return fmt.Errorf("connected with an untrusted certificate")
				}
				return nil
			})
		mustContain(t, lb.String(), "certificate signed by unknown authority")
	})
	t.Run("insecure skip verify warns", func(t *testing.T) {
		_, lb := pingScenario(t, append(fastOpts(t, "n3", url), WithTLS(TLS{InsecureSkipVerify: true})))
		mustContain(t, lb.String(), "level=WARN", "NOT verified")
	})
}

func TestMutualTLS(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	srv := pki.serverTLS.Clone()
	srv.ClientAuth = tls.RequireAndVerifyClientCert
	srv.ClientCAs = pki.pool
	br := startBroker(t, brokerOpts{TLS: srv})
	url := "mqtts://" + br.Addr()
	t.Run("client certificate", func(t *testing.T) {
		opts := append(fastOpts(t, "n1", url), WithTLS(TLS{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey, ServerName: "localhost"}))
		pingScenario(t, opts)
	})
	t.Run("no client certificate refused", func(t *testing.T) {
		scenario(t, append(fastOpts(t, "n2", url), WithTLS(TLS{CAFile: pki.caFile})), nil,
			func(tk *loop.Task, b *Bridge) error {
				if err := waitFailures(tk, b, 2); err != nil {
					return err
				}
				if b.Connected() {
					return fmt.Errorf("connected without a client certificate")
				}
				return nil
			})
	})
}

// The password comes from a file or the environment, works, and never
// shows in the logs (debug level included), even when refused.
func TestPassword(t *testing.T) {
	const pw = "s3cret-Pa55word"
	br := startBroker(t, brokerOpts{User: "node", Pass: pw})
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGEAGENT_TEST_PW", pw)
	t.Setenv("EDGEAGENT_TEST_BAD_PW", pw+"x")
	for _, c := range []struct {
		name string
		opt  Option
		ok   bool
	}{
		{"file", WithPasswordFile(file), true},
		{"env", WithPasswordEnv("EDGEAGENT_TEST_PW"), true},
		{"wrong", WithPasswordEnv("EDGEAGENT_TEST_BAD_PW"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append(fastOpts(t, "n-"+c.name, br.URL()), WithUsername("node"), c.opt)
			pingSetup, pingBody := selfPing()
			_, lb := scenario(t, opts, pingSetup, func(tk *loop.Task, b *Bridge) error {
				if c.ok {
					return pingBody(tk, b)
				}
				if err := waitFailures(tk, b, 2); err != nil {
					return err
				}
				if b.Connected() {
					return fmt.Errorf("connected with a wrong password")
				}
				return nil
			})
			if logs := lb.String(); strings.Contains(logs, pw) {
				t.Errorf("the password shows in the logs:\n%s", logs)
			}
		})
	}
	if s := fmt.Sprintf("%v %s %#v %+v", secret(pw), secret(pw), secret(pw), struct{ P secret }{pw}); strings.Contains(s, pw) {
		t.Errorf("secret prints: %s", s)
	}
}
