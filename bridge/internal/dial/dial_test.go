package dial

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    Files
		want string
	}{
		{Files{CAFile: filepath.Join(dir, "missing.pem")}, "CAFile: open " + dir},
		{Files{CAFile: notPEM}, "CAFile " + notPEM + ": no PEM certificate in it"},
		{Files{CertFile: notPEM, KeyFile: notPEM}, "client certificate " + notPEM + " / key " + notPEM},
	} {
		_, err := TLSConfig(c.f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TLSConfig(%+v) = %v, want %q", c.f, err, c.want)
		}
	}
	cfg, err := TLSConfig(Files{ServerName: "broker.lan"})
	if err != nil || cfg.ServerName != "broker.lan" || cfg.MinVersion == 0 {
		t.Errorf("TLSConfig: %+v %v", cfg, err)
	}
}

// Dial reaches a listener, reads through the buffer, and gives up within
// its timeout where nothing answers the TLS handshake.
func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello"))
			// Keep it open: a TLS client waits for a handshake that never comes.
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	d := Dialer{Timeout: 2 * time.Second}
	c, err := d.Dial(context.Background(), ln.Addr().String(), false, "test")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q %v", buf, err)
	}
	_ = c.Close()
	d.Timeout = 200 * time.Millisecond
	if _, err := d.Dial(context.Background(), ln.Addr().String(), true, "test"); err == nil || !strings.Contains(err.Error(), "TLS handshake with") {
		t.Fatalf("TLS to a plain server: %v", err)
	}
}
