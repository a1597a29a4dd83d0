package demobroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/goleak"
)

// waitLimit bounds every wait for something that must happen; it only
// matters when the code under test is broken.
const waitLimit = 10 * time.Second

func quiet() Option { return WithLogger(slog.New(slog.DiscardHandler)) }

// serveLocal starts a broker on a port the system picks.
func serveLocal(t *testing.T, opts ...Option) *Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Serve(ln, append([]Option{quiet()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func connect(t *testing.T, url, id string, setup ...func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false)
	for _, f := range setup {
		f(o)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("%s: connect to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, retained bool, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

type received struct {
	topic, payload string
	retained       bool
}

func subscribe(t *testing.T, c mqtt.Client, filter string) <-chan received {
	t.Helper()
	ch := make(chan received, 64)
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		ch <- received{m.Topic(), string(m.Payload()), m.Retained()}
	})
	if !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func next(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitLimit):
		t.Fatal("no message")
		return received{}
	}
}

// Start(0) lands on 1883 or a port above it; a client connects without
// credentials, and a later subscriber is sent the retained messages — the
// latest of each topic — beside what is published live. (mochi sends the
// retained ones after the SUBACK, so a live message may come first.)
func TestStartAndRetainedReplay(t *testing.T) {
	b, err := Start(0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Port() < DefaultPort || b.Port() >= DefaultPort+portSpan || b.URL() != "tcp://127.0.0.1:"+strconv.Itoa(b.Port()) {
		t.Fatalf("Start(0) on %s (port %d)", b.URL(), b.Port())
	}
	pub := connect(t, b.URL(), "publisher")
	publish(t, pub, "edgeagent/porch/availability", true, "online")
	publish(t, pub, "edgeagent/porch/relay/state", true, "OFF")
	publish(t, pub, "edgeagent/porch/relay/state", true, "ON") // replaces OFF
	// mochi acknowledges a publication before it hands it to subscribers,
	// and handles one client's packets in order: once a later one is
	// acknowledged, the ones above have reached every subscriber there was.
	publish(t, pub, "barrier", false, "")

	sub := connect(t, b.URL(), "viewer")
	ch := subscribe(t, sub, "edgeagent/#")
	publish(t, pub, "edgeagent/porch/marker", false, "live")
	want := map[string]bool{
		"edgeagent/porch/availability=online retained=true": true,
		"edgeagent/porch/relay/state=ON retained=true":      true,
		"edgeagent/porch/marker=live retained=false":        true,
	}
	for n := len(want); n > 0; n-- {
		m := next(t, ch)
		got := fmt.Sprintf("%s=%s retained=%v", m.topic, m.payload, m.retained)
		if !want[got] {
			t.Fatalf("received %q; want only %v", got, want)
		}
		delete(want, got)
	}
}

// mochi stamps every message with an expiry a day ahead unless told not to,
// and drops retained messages when it passes; the demo's must stay.
func TestRetainedMessagesDoNotExpire(t *testing.T) {
	b := serveLocal(t)
	publish(t, connect(t, b.URL(), "publisher"), "edgeagent/porch/availability", true, "online")
	pk, ok := b.srv.Topics.Retained.Get("edgeagent/porch/availability")
	if !ok || string(pk.Payload) != "online" {
		t.Fatalf("retained: %q, %v", pk.Payload, ok)
	}
	if pk.Expiry != 0 {
		t.Fatalf("retained message expires at %v (in %v)", pk.Expiry, time.Duration(pk.Expiry-time.Now().Unix())*time.Second)
	}
}

func TestPortTakenFallsBackUpward(t *testing.T) {
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	taken := hold.Addr().(*net.TCPAddr).Port

	ln, err := listenFrom(taken, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if got <= taken || got >= taken+10 {
		t.Fatalf("listenFrom(%d) took port %d", taken, got)
	}

	_, err = listenFrom(taken, 1)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), fmt.Sprintf("no free port in 127.0.0.1:%d-%d", taken, taken)) {
		t.Fatalf("listenFrom with every port taken: %v", err)
	}

	// A port asked for by number is that port or an error.
	_, err = Start(taken, quiet())
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(taken)) {
		t.Fatalf("Start(%d) with the port taken: %v", taken, err)
	}
}

// recorder keeps "LEVEL message" of every record logged through it.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var url string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "url" || a.Key == "port" {
			url = a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, strings.TrimSpace(rec.Level.String()+" "+rec.Message+" "+url))
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// Start(0) with 1883 taken says which port it chose.
func TestStartSaysWhichPort(t *testing.T) {
	hold, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(DefaultPort))
	if err != nil {
		t.Skipf("cannot hold port %d for the test: %v", DefaultPort, err)
	}
	defer hold.Close()
	rec := &recorder{}
	b, err := Start(0, WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Port() == DefaultPort {
		t.Fatal("Start(0) reports the taken port")
	}
	want := "INFO demo broker: port taken, using the next free one " + strconv.Itoa(b.Port())
	if !strings.Contains(strings.Join(rec.all(), "\n"), want) {
		t.Fatalf("log %q lacks %q", rec.all(), want)
	}
}

// mochi's own messages come out at Debug during an ordinary session; the
// broker's own say where it listens and that it closed.
func TestMochiLogsQuietly(t *testing.T) {
	rec := &recorder{}
	b := serveLocal(t, WithLogger(slog.New(rec)))
	c := connect(t, b.URL(), "client")
	publish(t, c, "a/b", false, "x")
	c.Disconnect(0)
	b.Close()
	mochiLines := 0
	for _, l := range rec.all() {
		switch {
		case strings.HasPrefix(l, "INFO demo broker: "):
		case strings.HasPrefix(l, "DEBUG "):
			mochiLines++
		default:
			t.Errorf("log line %q: mochi's messages must be at DEBUG", l)
		}
	}
	want := []string{"INFO demo broker: listening " + b.URL(), "INFO demo broker: closed " + b.URL()}
	for _, w := range want {
		if !strings.Contains(strings.Join(rec.all(), "\n"), w) {
			t.Errorf("log lacks %q: %q", w, rec.all())
		}
	}
	if mochiLines == 0 {
		t.Errorf("no message of mochi's came through: %q", rec.all())
	}
}

func TestQuietHandlerLevels(t *testing.T) {
	rec := &recorder{}
	log := slog.New(quietHandler{rec})
	log.Debug("d")
	log.Info("i")
	log.Warn("", "error", "EOF")
	log.Warn("w")
	log.Error("e")
	want := []string{"DEBUG d", "DEBUG i", "INFO client connection failed", "INFO w", "ERROR e"}
	if got := rec.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAnonymousOnlyFromLoopback(t *testing.T) {
	h := &loopbackOnly{}
	for remote, want := range map[string]bool{
		"127.0.0.1:50000":          true,
		"127.8.9.10:1":             true,
		"[::1]:50000":              true,
		"[::ffff:127.0.0.1]:50000": true,
		"192.0.2.7:50000":          false,
		"[2001:db8::1]:50000":      false,
		"":                         false,
		"pipe":                     false,
	} {
		cl := &mochi.Client{Net: mochi.ClientConnection{Remote: remote}}
		if got := h.OnConnectAuthenticate(cl, packetsConnect()); got != want {
			t.Errorf("client from %q let in: %v, want %v", remote, got, want)
		}
	}
}

// Close disconnects clients, drops half-open connections, releases the
// port and leaves no goroutine behind; a second Close does nothing.
func TestCloseIsClean(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	b, err := Serve(ln, quiet())
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("client").SetAutoReconnect(false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	halfOpen, err := net.Dial("tcp", addr) // never sends CONNECT
	if err != nil {
		t.Fatal(err)
	}
	defer halfOpen.Close()

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(waitLimit):
		t.Fatal("the client was not disconnected")
	}
	if err := halfOpen.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	if n, err := halfOpen.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("half-open connection: read %d, %v; want it closed", n, err)
	}
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	again.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(0)
}

func packetsConnect() packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
}
