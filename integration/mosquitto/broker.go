package mosquitto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Timeouts of Docker operations; a broker is ready in about a second.
const (
	readyTimeout = 30 * time.Second
	opTimeout    = 60 * time.Second
	stopGrace    = 10 * time.Second
)

// Broker is one Mosquitto container, reachable on 127.0.0.1 at ports chosen
// before it started and kept across Stop and Start. The test's cleanup
// terminates it (and, when the test failed, logs the broker's log).
type Broker struct {
	env      *Env
	name     string
	cfg      Config
	ctr      testcontainers.Container
	port     int // host port of the plain listener
	tlsPort  int // host port of the TLS listener, 0 without TLS
	user, pw string

	mu         sync.Mutex
	terminated bool
}

// startOptions place a broker on a Docker network (for bridged pairs).
type startOptions struct {
	network string
}

// Start runs a broker with cfg and waits until it answers a QoS 1 publish
// from the image's own mosquitto_pub inside the container. It skips or
// fails the test (see Require) when Docker or the image is missing.
func (e *Env) Start(t testing.TB, cfg Config) *Broker {
	t.Helper()
	return e.start(t, cfg, startOptions{})
}

func (e *Env) start(t testing.TB, cfg Config, so startOptions) *Broker {
	t.Helper()
	e.Require(t)
	name := cfg.Name
	if name == "" {
		name = "broker"
	}
	r, err := cfg.render(name)
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{env: e, name: name, cfg: cfg, user: r.user, pw: r.password}
	// Checked at every start: testcontainers would try to pull a missing
	// image from a registry this machine cannot reach.
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	ok, err := imagePresent(ctx, e.cli, e.image)
	cancel()
	if err != nil || !ok {
		t.Fatalf("image %s is not present (it was at TestMain): %v", e.image, err)
	}

	files := []testcontainers.ContainerFile{{Reader: strings.NewReader(r.conf), ContainerFilePath: configPath, FileMode: 0o644}}
	for p, data := range r.files {
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader(data), ContainerFilePath: p, FileMode: 0o644})
	}
	exposed := []string{fmt.Sprintf("%d/tcp", PlainPort)}
	if cfg.TLS != nil {
		exposed = append(exposed, fmt.Sprintf("%d/tcp", TLSPort))
	}
	labels := e.labels()
	labels["io.edgeagent.integration.broker"] = name
	labels["io.edgeagent.integration.test"] = t.Name()

	// A port picked free can be taken by someone else before Docker binds
	// it: pick again a few times.
	start := time.Now()
	for attempt := 0; attempt < 3; attempt++ {
		b.port, b.tlsPort = freePort(t), 0
		if cfg.TLS != nil {
			b.tlsPort = freePort(t)
		}
		req := testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image:        e.image,
				Cmd:          imageCmd(),
				ExposedPorts: exposed,
				Labels:       labels,
				Files:        files,
				HostConfigModifier: func(hc *container.HostConfig) {
					hc.PortBindings = b.portBindings()
				},
				WaitingFor: wait.ForExec(b.probeCmd()).
					WithStartupTimeout(readyTimeout).WithPollInterval(100 * time.Millisecond),
			},
			Started: true,
			Logger:  tclog.TestLogger(t),
		}
		if so.network != "" {
			req.Networks = []string{so.network}
			req.NetworkAliases = map[string][]string{so.network: {name}}
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		ctr, err := testcontainers.GenericContainer(ctx, req)
		cancel()
		if err == nil {
			b.ctr = ctr
			break
		}
		logs := "(no container)"
		if ctr != nil {
			b.ctr = ctr
			logs = b.logText()
			b.ctr = nil
			if terr := testcontainers.TerminateContainer(ctr, testcontainers.StopTimeout(0)); terr != nil {
				t.Errorf("remove the broker container that failed to start: %v", terr)
			}
		}
		if !isPortTaken(err) || attempt == 2 {
			t.Fatalf("start broker %s (%s): %v\nbroker log:\n%s", name, e.image, err, lastLines(logs, 40))
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker %s log (last 40 lines):\n%s", name, lastLines(b.logText(), 40))
		}
		b.Terminate(t)
	})
	t.Logf("broker %s (%s) ready on %s in %v", name, e.image, b.Addr(), time.Since(start).Round(time.Millisecond))
	return b
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func isPortTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// portBindings binds the listeners to 127.0.0.1 on the chosen ports.
func (b *Broker) portBindings() network.PortMap {
	lo := netip.MustParseAddr("127.0.0.1")
	pm := network.PortMap{
		network.MustParsePort(fmt.Sprintf("%d/tcp", PlainPort)): {{HostIP: lo, HostPort: strconv.Itoa(b.port)}},
	}
	if b.tlsPort != 0 {
		pm[network.MustParsePort(fmt.Sprintf("%d/tcp", TLSPort))] = []network.PortBinding{{HostIP: lo, HostPort: strconv.Itoa(b.tlsPort)}}
	}
	return pm
}

// probeCmd publishes at QoS 1 from inside the container: it succeeds only
// once the broker itself accepts and acknowledges (a port check would be
// answered by Docker's proxy; a log line by the previous run's log).
func (b *Broker) probeCmd() []string {
	args := []string{pubBinary, "-h", "127.0.0.1", "-p", strconv.Itoa(PlainPort), "-q", "1",
		"-i", "harness-probe", "-t", "harness/ready", "-n"}
	if b.user != "" {
		args = append(args, "-u", b.user, "-P", b.pw)
	}
	return args
}

// Name is the broker's name (its host name on a shared network).
func (b *Broker) Name() string { return b.name }

// Config is the configuration the broker was started with.
func (b *Broker) Config() Config { return b.cfg }

// ContainerID is the Docker id of the broker's container.
func (b *Broker) ContainerID() string { return b.ctr.GetContainerID() }

// Port is the host port of the plain listener (on 127.0.0.1).
func (b *Broker) Port() int { return b.port }

// Addr is the plain listener's address, "127.0.0.1:port".
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// URL is the plain listener's URL, "tcp://127.0.0.1:port".
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// TLSAddr is the TLS listener's address ("" without TLS).
func (b *Broker) TLSAddr() string {
	if b.tlsPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.tlsPort))
}

// TLSURL is the TLS listener's URL, "ssl://127.0.0.1:port" ("" without TLS).
func (b *Broker) TLSURL() string {
	if b.tlsPort == 0 {
		return ""
	}
	return "ssl://" + b.TLSAddr()
}

// Admin returns the harness's own account on a broker with
// authentication (Users, ACL or DynSec): it may do anything. Both are ""
// on a broker that lets anonymous clients do anything.
func (b *Broker) Admin() (user, password string) { return b.user, b.pw }

// Stop stops the container as `docker stop` does (SIGTERM, so a broker
// with persistence writes its database) and returns how long it took.
func (b *Broker) Stop(t testing.TB) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	start := time.Now()
	grace := stopGrace
	if err := b.ctr.Stop(ctx, &grace); err != nil {
		t.Fatalf("stop broker %s: %v", b.name, err)
	}
	return time.Since(start)
}

// Start starts a stopped broker again on the same host ports and waits
// until it is ready; it returns how long that took.
func (b *Broker) Start(t testing.TB) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	start := time.Now()
	if err := b.ctr.Start(ctx); err != nil {
		t.Fatalf("start broker %s again: %v\nbroker log:\n%s", b.name, err, lastLines(b.logText(), 20))
	}
	return time.Since(start)
}

// Pause freezes the broker (`docker pause`): its TCP connections stay
// open but nothing answers. It returns how long the engine took.
func (b *Broker) Pause(t testing.TB) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	start := time.Now()
	if _, err := b.env.cli.ContainerPause(ctx, b.ContainerID(), client.ContainerPauseOptions{}); err != nil {
		t.Fatalf("pause broker %s: %v", b.name, err)
	}
	return time.Since(start)
}

// Unpause resumes a paused broker and returns how long the engine took.
func (b *Broker) Unpause(t testing.TB) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	start := time.Now()
	if _, err := b.env.cli.ContainerUnpause(ctx, b.ContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		t.Fatalf("unpause broker %s: %v", b.name, err)
	}
	return time.Since(start)
}

// Terminate removes the container (killing it, paused or not). The test's
// cleanup calls it; calling it earlier is allowed, and it reports a failure
// with t.Errorf so later cleanups still run.
func (b *Broker) Terminate(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	done := b.terminated || b.ctr == nil
	b.terminated = true
	b.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// No grace: the broker's state no longer matters, and a paused
	// container could not act on SIGTERM anyway.
	if err := testcontainers.TerminateContainer(b.ctr, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); err != nil {
		t.Errorf("terminate broker %s: %v", b.name, err)
	}
}

// Logs returns the broker's log so far, across restarts (log_dest stderr).
func (b *Broker) Logs(t testing.TB) string {
	t.Helper()
	s, err := b.logs()
	if err != nil {
		t.Fatalf("logs of broker %s: %v", b.name, err)
	}
	return s
}

func (b *Broker) logs() (string, error) {
	if b.ctr == nil {
		return "", errors.New("no container")
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rc, err := b.ctr.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	return string(out), err
}

// logText is the log or why it could not be read, for failure reports.
func (b *Broker) logText() string {
	s, err := b.logs()
	if err != nil {
		return "(log unavailable: " + err.Error() + ")"
	}
	return s
}

// LogLines is the number of log lines so far: pass it to WaitLog to match
// only what comes after (a restarted broker's log still holds the old run).
func (b *Broker) LogLines(t testing.TB) int {
	t.Helper()
	return len(splitLines(b.Logs(t)))
}

// WaitLog waits until a log line after the first `after` lines matches re
// and returns it; it fails the test after timeout.
func (b *Broker) WaitLog(t testing.TB, after int, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		lines := splitLines(b.Logs(t))
		for _, l := range lines[min(after, len(lines)):] {
			if re.MatchString(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %s: no log line matching %q within %v; log after line %d:\n%s",
				b.name, re, timeout, after, strings.Join(lines[min(after, len(lines)):], "\n"))
		}
		<-tick.C
	}
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func lastLines(s string, n int) string {
	l := splitLines(s)
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// demux splits Docker's multiplexed exec/log stream.
func demux(stdout, stderr io.Writer, r io.Reader) error {
	_, err := stdcopy.StdCopy(stdout, stderr, r)
	return err
}
