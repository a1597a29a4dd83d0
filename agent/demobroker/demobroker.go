// Package demobroker is the MQTT broker the demo embeds
// (github.com/mochi-mqtt/server/v2), so that `edgeagent demo` needs no broker
// of its own: it listens on loopback only, lets anonymous clients in from
// there, keeps retained messages for as long as it runs, and closes cleanly.
//
// It is for the demo and for tests, not a production broker: no
// authentication, no persistence, no TLS.
package demobroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultPort is MQTT's registered port, where Start(0) tries first.
const DefaultPort = 1883

// portSpan is how many ports Start(0) tries, from DefaultPort upward.
const portSpan = 100

// A Broker is a running embedded broker.
type Broker struct {
	srv  *mochi.Server
	ln   *listener
	port int
	log  *slog.Logger

	closeOnce sync.Once
}

// An Option configures a Broker.
type Option func(*settings)

type settings struct {
	log *slog.Logger
}

// WithLogger sets the logger for the broker's own messages (Info) and for
// mochi's, which are quietened: its Info and Debug messages come out at
// Debug, its warnings (mostly about one client's connection) at Info, its
// errors as errors. The default is slog.Default().
func WithLogger(log *slog.Logger) Option {
	return func(s *settings) { s.log = log }
}

// Start starts a broker on 127.0.0.1:port. Port 0 means DefaultPort or, if
// that is taken, the next free port above it (up to 99 more): Port tells
// which, and the choice is logged. A non-zero port is used as given or not
// at all.
func Start(port int, opts ...Option) (*Broker, error) {
	s := apply(opts)
	var (
		ln  net.Listener
		err error
	)
	if port == 0 {
		ln, err = listenFrom(DefaultPort, portSpan)
	} else {
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	if err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	b, err := serve(ln, s)
	if err != nil {
		return nil, err
	}
	if port == 0 && b.port != DefaultPort {
		b.log.Info("demo broker: port taken, using the next free one", "taken", DefaultPort, "port", b.port)
	}
	return b, nil
}

// Serve starts a broker on a listener the caller opened (tests open
// 127.0.0.1:0), and owns it from then on. Anonymous clients are let in from
// loopback addresses only, whatever the listener's address.
func Serve(ln net.Listener, opts ...Option) (*Broker, error) {
	return serve(ln, apply(opts))
}

func apply(opts []Option) *settings {
	s := &settings{}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// listenFrom listens on the first free loopback port of first, first+1, …
// first+span-1. Only "address in use" moves it on; any other error ends the
// search.
func listenFrom(first, span int) (net.Listener, error) {
	var err error
	for p := first; p < first+span && p <= 65535; p++ {
		var ln net.Listener
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port in 127.0.0.1:%d-%d: %w", first, min(first+span-1, 65535), err)
}

// sysInterval is how often, in seconds, the broker publishes its $SYS
// topics.
const sysInterval = 60

func serve(ln net.Listener, s *settings) (*Broker, error) {
	caps := mochi.NewDefaultServerCapabilities()
	// mochi drops every retained message a day after it was published
	// unless told otherwise; the demo's discovery configs and states must
	// outlive that. Messages that carry their own MQTT 5 expiry still expire.
	caps.MaximumMessageExpiryInterval = 0
	quiet := slog.New(quietHandler{s.log.Handler()}).With("component", "mqtt-broker")
	// $SYS statistics once a minute, not every second (mochi's default):
	// nothing here reads them, and each round wakes the process. mochi's
	// other housekeeping tickers (client, inflight, retained and will
	// expiry) run every second and cannot be set.
	srv := mochi.New(&mochi.Options{Capabilities: caps, Logger: quiet, SysTopicResendInterval: sysInterval})
	b := &Broker{srv: srv, log: s.log}
	if err := srv.AddHook(&loopbackOnly{}, nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	b.ln = &listener{ln: ln, srv: srv, log: quiet, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	if err := srv.AddListener(b.ln); err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		b.port = a.Port
	}
	b.log.Info("demo broker: listening", "url", b.URL())
	return b, nil
}

// Addr returns the address the broker listens on, "127.0.0.1:1883".
func (b *Broker) Addr() string { return b.ln.Address() }

// Port returns the TCP port the broker listens on.
func (b *Broker) Port() int { return b.port }

// URL returns the URL clients connect to, "tcp://127.0.0.1:1883".
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Close stops the broker: it stops accepting, disconnects every client,
// waits until their connections are gone and releases the port. Retained
// messages go with it. Further calls do nothing.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		_ = b.srv.Close() // closes the listener, then stops mochi's hooks and housekeeping
		b.log.Info("demo broker: closed", "url", b.URL())
	})
	return nil
}

// loopbackOnly lets every client in that connects from a loopback address,
// without credentials, and lets it publish and subscribe anywhere.
// (mochi's own auth hooks would bring a YAML module in for this.)
type loopbackOnly struct{ mochi.HookBase }

func (*loopbackOnly) ID() string { return "loopback-anonymous" }

func (*loopbackOnly) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (*loopbackOnly) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	return isLoopback(cl.Net.Remote)
}

func (*loopbackOnly) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// isLoopback reports whether a remote address "host:port" is on loopback.
func isLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// listener is a mochi listener over a net.Listener that it closes without
// mochi's own client sweep, which can deadlock: Clients.GetByListener takes
// the clients' read lock twice (it calls Len under it), so a client leaving
// at that moment, waiting for the write lock in between, blocks both for
// ever. This one lists the clients under one read lock, closes connections
// still in their handshake too, and waits for every connection it
// accepted to be finished.
type listener struct {
	ln  net.Listener
	srv *mochi.Server
	log *slog.Logger

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // accepted and not yet finished
	serving bool                  // Serve has started
	closed  bool
	wg      sync.WaitGroup // one per accepted connection
	done    chan struct{}  // closed when Serve has returned
}

func (l *listener) ID() string              { return "demo" }
func (l *listener) Address() string         { return l.ln.Addr().String() }
func (l *listener) Protocol() string        { return "tcp" }
func (l *listener) Init(*slog.Logger) error { return nil }

// Serve accepts connections until Close and hands each to mochi on a
// goroutine of its own.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer close(l.done)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.serving = true
	l.mu.Unlock()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			if err := establish(l.ID(), c); err != nil {
				l.log.Debug("client connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
			c.Close()
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
		}()
	}
}

// Close stops accepting, disconnects the clients (an MQTT 5 client is told
// the server is shutting down; 3.1.1 has no such message, so those
// connections are just closed), closes connections that have not finished
// their handshake, and waits for all of them.
func (l *listener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	serving := l.serving
	l.mu.Unlock()
	_ = l.ln.Close()
	if serving {
		<-l.done
	}
	for _, cl := range l.srv.Clients.GetAll() {
		if cl.Net.Listener != l.ID() || cl.Closed() {
			continue
		}
		if cl.Properties.ProtocolVersion >= 5 {
			_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		} else {
			cl.Stop(packets.ErrServerShuttingDown)
		}
	}
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// quietHandler passes mochi's records on one step quieter: Debug and Info
// become Debug, Warn becomes Info, Error stays. mochi's listeners warn with
// an empty message about a client whose connection failed; those get one.
type quietHandler struct{ h slog.Handler }

func quieter(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return l
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, quieter(l))
}

func (q quietHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if msg == "" {
		msg = "client connection failed"
	}
	out := slog.NewRecord(r.Time, quieter(r.Level), msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return q.h.Handle(ctx, out)
}

func (q quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{q.h.WithAttrs(as)}
}

func (q quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{q.h.WithGroup(name)}
}
