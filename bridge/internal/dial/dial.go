package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"
)

// buildTLS reads the files of a TLS option into a client configuration.
func buildTLS(c *TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // explicit option, warned about
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("WithTLS: CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("WithTLS: CAFile %s: no PEM certificate in it", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" && c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("WithTLS: client certificate %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// dial opens the network connection to br: TCP, then TLS if the broker
// wants it, within the connect timeout. On Linux the TCP socket acknowledges
// every segment at once (TCP_QUICKACK, set again after each read): without
// it a broker that leaves Nagle's algorithm on (Mosquitto's default) holds
// a PUBLISH that follows a PUBACK until the client's delayed ACK, 40 ms
// later, and every QoS 1 round trip pays it.
func (b *Bridge) dial(ctx context.Context, br broker) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.s.connectTimeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", br.host)
	if err != nil {
		return nil, err
	}
	var conn net.Conn = raw
	if tc, ok := raw.(*net.TCPConn); ok && !b.s.noQuickAck {
		conn = newQuickAckConn(tc)
	}
	if !br.tls {
		return conn, nil
	}
	cfg := b.tlsConf.Clone()
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(br.host)
		cfg.ServerName = host
	}
	if cfg.InsecureSkipVerify {
		b.log.Warn("bridge: TLS certificate of the broker NOT verified (WithTLS InsecureSkipVerify)", "broker", br.url)
	}
	tc := tls.Client(conn, cfg)
	if dl, ok := ctx.Deadline(); ok {
		_ = tc.SetDeadline(dl)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", br.host, err)
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
