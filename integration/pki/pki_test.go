package pki

import (
	"crypto/x509"
	"os"
	"testing"
)

func TestCertificates(t *testing.T) {
	ca := NewCA(t, "test CA")
	server := ca.Server(t, "broker", "central", "10.0.0.7")
	client := ca.Client(t, "node-1")
	rogue := NewCA(t, "rogue").Client(t, "node-1")

	verify := func(id *Identity, usage x509.ExtKeyUsage, host string) error {
		c, err := x509.ParseCertificate(id.TLS.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, host := range []string{"127.0.0.1", "localhost", "central", "10.0.0.7"} {
		if err := verify(server, x509.ExtKeyUsageServerAuth, host); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if err := verify(server, x509.ExtKeyUsageServerAuth, "elsewhere"); err == nil {
		t.Error("server certificate valid for a host it does not name")
	}
	if err := verify(client, x509.ExtKeyUsageClientAuth, ""); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if err := verify(client, x509.ExtKeyUsageServerAuth, ""); err == nil {
		t.Error("client certificate usable as a server's")
	}
	if err := verify(rogue, x509.ExtKeyUsageClientAuth, ""); err == nil {
		t.Error("a certificate from another CA verifies")
	}
	if c, err := x509.ParseCertificate(client.TLS.Certificate[0]); err != nil {
		t.Error(err)
	} else if c.Subject.CommonName != "node-1" {
		t.Errorf("client common name %q, want node-1", c.Subject.CommonName)
	}
	// The files hold the same PEM (for mosquitto_pub and the agent's config).
	for path, want := range map[string][]byte{ca.File: ca.PEM, client.CertFile: client.CertPEM, client.KeyFile: client.KeyPEM} {
		if got, err := os.ReadFile(path); err != nil || string(got) != string(want) {
			t.Errorf("%s: %v, content differs: %t", path, err, string(got) != string(want))
		}
	}
	if cfg := ClientConfig(ca, client); len(cfg.Certificates) != 1 || cfg.RootCAs == nil {
		t.Errorf("ClientConfig: %d certificates, roots %v", len(cfg.Certificates), cfg.RootCAs)
	}
}
