// Package dial opens the bridge's network connection to a broker: TCP, then
// TLS when the broker's address asks for it, within a timeout, with reads
// buffered and — on Linux — TCP_QUICKACK armed before each read.
//
// Why the last part: Mosquitto's default configuration leaves Nagle's
// algorithm on, so it holds a PUBLISH that follows a PUBACK until the
// client's delayed ACK, 40 ms later; every QoS 1 round trip would pay it.
// A client that acknowledges every segment at once ends the stall.
package dial

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

// Files names the PEM files of a TLS configuration.
type Files struct {
	CAFile, CertFile, KeyFile string
	ServerName                string
	InsecureSkipVerify        bool
}

// TLSConfig reads the files into a client configuration (TLS 1.2 at
// least). Errors name the file and the option field.
func TLSConfig(f Files) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // explicit option, warned about
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CAFile %s: no PEM certificate in it", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" && f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", f.CertFile, f.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Dialer opens connections to brokers.
type Dialer struct {
	// Timeout bounds the TCP connect and the TLS handshake together.
	Timeout time.Duration
	// TLS is used for brokers dialled with useTLS; nil means TLS 1.2 with
	// the system's roots.
	TLS *tls.Config
	// NoQuickAck turns the TCP_QUICKACK cure off (for the benchmark that
	// shows what it cures).
	NoQuickAck bool
	// Log receives the warning about an unverified certificate.
	Log *slog.Logger
}

// Dial connects to host ("host:port"), with TLS when useTLS; name is the
// broker as configured, for the log.
func (d Dialer) Dial(ctx context.Context, host string, useTLS bool, name string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	var conn net.Conn = raw
	if tc, ok := raw.(*net.TCPConn); ok && !d.NoQuickAck {
		conn = newQuickAckConn(tc)
	}
	if !useTLS {
		return conn, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.TLS != nil {
		cfg = d.TLS.Clone()
	}
	if cfg.ServerName == "" {
		h, _, _ := net.SplitHostPort(host)
		cfg.ServerName = h
	}
	if cfg.InsecureSkipVerify && d.Log != nil {
		d.Log.Warn("bridge: TLS certificate of the broker NOT verified (WithTLS InsecureSkipVerify)", "broker", name)
	}
	tc := tls.Client(conn, cfg)
	if dl, ok := ctx.Deadline(); ok {
		_ = tc.SetDeadline(dl)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", host, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// bufConn buffers reads: paho reads a packet a few bytes at a time, and
// each read would otherwise be a system call (and, with TCP_QUICKACK,
// two).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
