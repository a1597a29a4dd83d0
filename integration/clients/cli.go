package clients

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// CLIOption adjusts a mosquitto_pub or mosquitto_sub invocation.
type CLIOption func(*cliConfig)

type cliConfig struct {
	qos                byte
	retain, persistent bool
	clientID           string
	user, password     string
	count              int
	timeout            time.Duration
	cafile, cert, key  string
	extra              []string
}

// QoS sets the quality of service of the publication or subscription.
func QoS(q byte) CLIOption { return func(c *cliConfig) { c.qos = q } }

// Retain publishes a retained message (mosquitto_pub -r).
func Retain() CLIOption { return func(c *cliConfig) { c.retain = true } }

// ClientID sets the client id (-i).
func ClientID(id string) CLIOption { return func(c *cliConfig) { c.clientID = id } }

// Persistent asks for a persistent session (-c, clean session off); it
// needs a ClientID.
func Persistent() CLIOption { return func(c *cliConfig) { c.persistent = true } }

// Auth sets user name and password (-u, -P); Auth("", "") connects
// anonymously, overriding a default the caller put first.
func Auth(user, password string) CLIOption {
	return func(c *cliConfig) { c.user, c.password = user, password }
}

// Count makes mosquitto_sub exit after n messages (-C).
func Count(n int) CLIOption { return func(c *cliConfig) { c.count = n } }

// Timeout makes mosquitto_sub exit after d (-W, whole seconds, rounded up).
func Timeout(d time.Duration) CLIOption { return func(c *cliConfig) { c.timeout = d } }

// TLSFiles connects with TLS trusting cafile; cert and key (may be "")
// present a client certificate. Paths are as the client sees them.
func TLSFiles(cafile, cert, key string) CLIOption {
	return func(c *cliConfig) { c.cafile, c.cert, c.key = cafile, cert, key }
}

// Args appends raw arguments.
func Args(a ...string) CLIOption { return func(c *cliConfig) { c.extra = append(c.extra, a...) } }

// SubFormat is the -F format of our mosquitto_sub runs: retained flag, QoS,
// payload in hex (any bytes survive), topic last (it may hold spaces).
const SubFormat = "%r %q %x %t"

func common(host string, port int, opts []CLIOption) (cliConfig, []string) {
	var c cliConfig
	for _, o := range opts {
		o(&c)
	}
	args := []string{"-h", host, "-p", strconv.Itoa(port), "-q", strconv.Itoa(int(c.qos))}
	if c.clientID != "" {
		args = append(args, "-i", c.clientID)
	}
	if c.persistent {
		args = append(args, "-c")
	}
	if c.user != "" {
		args = append(args, "-u", c.user, "-P", c.password)
	}
	if c.cafile != "" {
		args = append(args, "--cafile", c.cafile)
		if c.cert != "" {
			args = append(args, "--cert", c.cert, "--key", c.key)
		}
	}
	return c, args
}

// PubArgs are mosquitto_pub's arguments (without the program name) to
// publish payload to topic at host:port.
func PubArgs(host string, port int, topic string, payload []byte, opts ...CLIOption) []string {
	c, args := common(host, port, opts)
	args = append(args, "-t", topic)
	if len(payload) == 0 {
		args = append(args, "-n")
	} else {
		args = append(args, "-m", string(payload))
	}
	if c.retain {
		args = append(args, "-r")
	}
	return append(args, c.extra...)
}

// SubArgs are mosquitto_sub's arguments (without the program name) to
// subscribe to filter at host:port, printing in SubFormat.
func SubArgs(host string, port int, filter string, opts ...CLIOption) []string {
	c, args := common(host, port, opts)
	// -d: the debug lines (on stdout) include the SUBACK, which tells
	// when the subscription is in place.
	args = append(args, "-d", "-t", filter, "-F", SubFormat)
	if c.count > 0 {
		args = append(args, "-C", strconv.Itoa(c.count))
	}
	if c.timeout > 0 {
		args = append(args, "-W", strconv.Itoa(int(math.Ceil(c.timeout.Seconds()))))
	}
	return append(args, c.extra...)
}

// ParseSubLine parses one line mosquitto_sub printed in SubFormat.
func ParseSubLine(line string) (Message, error) {
	f := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 4)
	if len(f) != 4 || (f[0] != "0" && f[0] != "1") || len(f[1]) != 1 || f[1][0] < '0' || f[1][0] > '2' {
		return Message{}, fmt.Errorf("not a mosquitto_sub line in format %q: %q", SubFormat, line)
	}
	payload, err := hex.DecodeString(f[2])
	if err == nil && strings.ToLower(f[2]) != f[2] {
		err = errors.New("upper-case hex: %x prints lower case")
	}
	if err != nil {
		return Message{}, fmt.Errorf("payload of mosquitto_sub line %q: %w", line, err)
	}
	return Message{Topic: f[3], Payload: payload, QoS: f[1][0] - '0', Retained: f[0] == "1", At: time.Now()}, nil
}

// Stream is a running mosquitto_sub: its messages arrive in the embedded
// Collector; the collector ends when the process exits.
//
// mosquitto_sub flushes its output after each message but not after its
// -d lines (the SUBACK among them), so it runs on a terminal (a pty on the
// host, a Docker exec TTY in a container), where stdout is line-buffered.
type Stream struct {
	*Collector
	stop       func()
	done       chan struct{}
	subscribed chan struct{} // closed at the first SUBACK

	mu      sync.Mutex
	debug   []string // other output: -d lines and errors, the last 200
	granted []byte   // codes of the first SUBACK
	code    int
	err     error
}

// subackLine is mosquitto_sub -d's report of a SUBACK: granted QoS per
// filter, 128 for a refusal.
var subackLine = regexp.MustCompile(`^Subscribed \(mid: \d+\): ([0-9, ]+)$`)

// NewStream reads mosquitto_sub's output (SubFormat lines, -d debug lines
// and errors, as on a terminal) into a new Stream. wait is called after the
// output ends and reports the exit code; stop ends the process early.
// Package mosquitto uses it for the clients it runs inside a container.
func NewStream(output io.Reader, stop func(), wait func() (int, error)) *Stream {
	s := &Stream{Collector: NewCollector(), stop: stop, done: make(chan struct{}), subscribed: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(output)
		sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
		var parseErr error
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if strings.HasPrefix(line, "0 ") || strings.HasPrefix(line, "1 ") {
				m, err := ParseSubLine(line)
				if err != nil {
					parseErr = errors.Join(parseErr, err)
					continue
				}
				s.Add(m)
				continue
			}
			s.mu.Lock()
			s.debug = append(s.debug, line)
			if len(s.debug) > 200 {
				s.debug = s.debug[1:]
			}
			if m := subackLine.FindStringSubmatch(line); m != nil && s.granted == nil {
				for _, c := range strings.Split(m[1], ",") {
					n, _ := strconv.Atoi(strings.TrimSpace(c))
					s.granted = append(s.granted, byte(n))
				}
				close(s.subscribed)
			}
			s.mu.Unlock()
		}
		code, err := wait()
		s.mu.Lock()
		s.code, s.err = code, errors.Join(err, parseErr)
		msg := fmt.Sprintf("mosquitto_sub exited with code %d", code)
		if n := len(s.debug); n > 0 {
			msg += "; its last output: " + s.debug[n-1]
		}
		s.mu.Unlock()
		s.End(errors.Join(errors.New(msg), err, parseErr))
	}()
	return s
}

// WaitSubscribed waits for the broker's SUBACK and returns its codes, one
// per filter: the granted QoS, or 128 (0x80) for a refused subscription.
func (s *Stream) WaitSubscribed(timeout time.Duration) ([]byte, error) {
	select {
	case <-s.subscribed:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.granted, nil
	case <-s.done:
		return nil, fmt.Errorf("mosquitto_sub ended before a SUBACK; its output:\n%s", s.Debug())
	case <-time.After(timeout):
		return nil, fmt.Errorf("no SUBACK within %v: %w; mosquitto_sub said:\n%s", timeout, ErrTimeout, s.Debug())
	}
}

// Debug is mosquitto_sub's recent output other than messages (connects,
// SUBACKs, publications received, errors), for failure reports.
func (s *Stream) Debug() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.debug, "\n")
}

// Stop ends the subscriber early; messages already received stay.
func (s *Stream) Stop() { s.stop() }

// Wait waits up to timeout for mosquitto_sub to exit (after Count
// messages or its Timeout) and returns its exit code.
func (s *Stream) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("mosquitto_sub still running after %v: %w", timeout, ErrTimeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.err
}

// hostTool finds a command-line client on the host, or skips the test
// (fails it when $EDGEAGENT_REQUIRE_DOCKER asks for the full suite).
func hostTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not on PATH (Debian: apt-get install mosquitto-clients)", name)
	if v := os.Getenv("EDGEAGENT_REQUIRE_DOCKER"); v != "" && v != "0" && v != "false" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// splitAddr splits "127.0.0.1:1883".
func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("address %q is not host:port", addr)
	}
	return addr[:i], port
}

// HostSub runs mosquitto_sub on the host against addr (host:port),
// returns once the broker answered the subscription (see
// Stream.WaitSubscribed for the codes), and collects what it prints. The process ends at Stop, after Count messages
// or Timeout, or at the test's cleanup. Unlike a client inside the broker's
// container, it survives the broker's restarts (it reconnects by itself).
func HostSub(t testing.TB, addr, filter string, opts ...CLIOption) *Stream {
	t.Helper()
	bin := hostTool(t, "mosquitto_sub")
	host, port := splitAddr(t, addr)
	cmd := exec.Command(bin, SubArgs(host, port, filter, opts...)...)
	cmd.SysProcAttr = sysProcAttr()
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start mosquitto_sub: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = cmd.Process.Kill() }) }
	wait := func() (int, error) {
		err := cmd.Wait()
		tty.Close()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = nil
		}
		return cmd.ProcessState.ExitCode(), err
	}
	s := NewStream(ptyReader{tty}, stop, wait)
	t.Cleanup(func() {
		stop()
		<-s.done
	})
	// A message published right after HostSub returns must not be missed.
	if _, err := s.WaitSubscribed(30 * time.Second); err != nil {
		t.Fatalf("mosquitto_sub %s on %s: %v", filter, addr, err)
	}
	return s
}

// ptyReader ends at the EIO a pty's master reads once the child closed
// the terminal (it exited).
type ptyReader struct{ f *os.File }

func (r ptyReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

// HostPub runs mosquitto_pub on the host against addr (host:port) and
// fails the test unless it succeeds within 30 s (with QoS 1 and 2 that
// means the broker acknowledged the message).
func HostPub(t testing.TB, addr, topic string, payload []byte, opts ...CLIOption) {
	t.Helper()
	out, err := HostPubErr(t, addr, topic, payload, opts...)
	if err != nil {
		t.Fatalf("mosquitto_pub to %s on %s: %v\n%s", topic, addr, err, out)
	}
}

// HostPubErr is HostPub returning the failure (and mosquitto_pub's
// output) instead, for tests that expect a refusal.
func HostPubErr(t testing.TB, addr, topic string, payload []byte, opts ...CLIOption) (string, error) {
	t.Helper()
	bin := hostTool(t, "mosquitto_pub")
	host, port := splitAddr(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, PubArgs(host, port, topic, payload, opts...)...).CombinedOutput()
	return string(out), err
}
