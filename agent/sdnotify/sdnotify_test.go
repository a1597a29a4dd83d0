package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeagent/edgeagent/loop"
)

// waitLimit bounds every wait for something that must happen; it only
// matters when the code under test is broken.
const waitLimit = 10 * time.Second

// fakeManager is the service manager's end of the protocol: a unix datagram
// socket named by NOTIFY_SOCKET for the test.
type fakeManager struct {
	conn *net.UnixConn
	path string
}

// listenNotify creates the socket and points NOTIFY_SOCKET at it. The path
// lives in a short directory of its own: t.TempDir's can outgrow the 108
// bytes a socket address holds.
func listenNotify(t *testing.T) *fakeManager {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return &fakeManager{conn: conn, path: path}
}

// drain returns every datagram already queued on the socket, without
// waiting for more. A send has queued its datagram by the time it returns,
// so after the sender is done this is exactly what it sent.
func (m *fakeManager) drain(t *testing.T) []string {
	t.Helper()
	got, err := m.tryDrain()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// tryDrain is drain for goroutines other than the test's.
func (m *fakeManager) tryDrain() ([]string, error) {
	raw, err := m.conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var got []string
	var rerr error
	buf := make([]byte, 4096)
	err = raw.Read(func(fd uintptr) bool {
		for {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) {
				return true
			}
			if err != nil {
				rerr = err
				return true
			}
			got = append(got, string(buf[:n]))
		}
	})
	return got, errors.Join(err, rerr)
}

// recv waits until deadline for one datagram; ok is false if none came.
func (m *fakeManager) recv(t *testing.T, deadline time.Time) (string, bool) {
	t.Helper()
	if err := m.conn.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := m.conn.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

// logRecorder keeps the records logged through it.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	return nil
}

// levels returns "LEVEL message" for each record so far.
func (r *logRecorder) levels() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		out = append(out, rec.Level.String()+" "+rec.Message)
	}
	return out
}

func TestNotifications(t *testing.T) {
	m := listenNotify(t)
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	n.Ready()
	n.Status("connected to tcp://localhost:1883\r\n3 devices")
	n.Stopping()
	want := []string{"READY=1", "STATUS=connected to tcp://localhost:1883  3 devices", "STOPPING=1"}
	if got := m.drain(t); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("datagrams %q, want %q", got, want)
	}
	if s := n.Stats(); s.Sent != 3 || s.Failed != 0 {
		t.Fatalf("Stats = %+v, want 3 sent", s)
	}
	if os.Getenv("NOTIFY_SOCKET") != m.path {
		t.Fatal("NOTIFY_SOCKET changed: the environment must be left as it is")
	}
}

// Status lines sent from goroutines of their own may overtake one another;
// OrderedStatus keeps the order in which they were made, so the manager
// never ends with an older line than the newest.
func TestOrderedStatusKeepsTheNewest(t *testing.T) {
	m := listenNotify(t)
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	starting := n.OrderedStatus("connected; 1 of 2 devices running")
	running := n.OrderedStatus("connected; 2 of 2 devices running")
	lost := n.OrderedStatus("not connected; 2 of 2 devices running")
	running()
	starting() // overtaken: dropped
	lost()
	want := []string{"STATUS=connected; 2 of 2 devices running", "STATUS=not connected; 2 of 2 devices running"}
	if got := m.drain(t); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("datagrams %q, want %q", got, want)
	}
	// Outside systemd it sends nothing, as Status does.
	var outside Notifier
	outside.OrderedStatus("x")()
	if s := outside.Stats(); s.Sent != 0 {
		t.Fatalf("a Notifier outside systemd sent %d", s.Sent)
	}
}

func monotonicUsec(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// Reloading must carry CLOCK_MONOTONIC in µs in the same datagram, or
// systemd ≥ 253 does not accept it as the answer to a notify-reload.
func TestReloadingCarriesMonotonicTime(t *testing.T) {
	m := listenNotify(t)
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	before := monotonicUsec(t)
	n.Reloading()
	after := monotonicUsec(t)
	got := m.drain(t)
	if len(got) != 1 {
		t.Fatalf("got %d datagrams %q, want 1", len(got), got)
	}
	fields := strings.Split(strings.TrimSuffix(got[0], "\n"), "\n")
	if len(fields) != 2 || fields[0] != "RELOADING=1" || !strings.HasPrefix(fields[1], "MONOTONIC_USEC=") {
		t.Fatalf("datagram %q, want RELOADING=1 and MONOTONIC_USEC=…", got[0])
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(fields[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if usec < before || usec > after {
		t.Fatalf("MONOTONIC_USEC=%d, not within [%d, %d] of CLOCK_MONOTONIC", usec, before, after)
	}
}

func TestOutsideSystemdNothingHappens(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000") // without a socket there is nobody to ping
	t.Setenv("WATCHDOG_PID", "")
	rec := &logRecorder{}
	n := New(WithLogger(slog.New(rec)))
	if n.Enabled() || n.WatchdogTimeout() != 0 {
		t.Fatalf("Enabled=%v WatchdogTimeout=%v outside systemd", n.Enabled(), n.WatchdogTimeout())
	}
	n.Ready()
	n.Status("x")
	n.Reloading()
	n.Stopping()
	runWatchdogUntilEnd(t, n)
	if s := n.Stats(); s != (Stats{}) {
		t.Fatalf("Stats = %+v outside systemd", s)
	}
	if l := rec.levels(); len(l) != 0 {
		t.Fatalf("logged %q outside systemd", l)
	}

	var zero Notifier // the zero value is a notifier outside systemd
	zero.Ready()
	runWatchdogUntilEnd(t, &zero)
}

// runWatchdogUntilEnd runs the watchdog task on a virtual-time loop and
// fails unless it ends by itself, at once, with nil.
func runWatchdogUntilEnd(t *testing.T, n *Notifier) {
	t.Helper()
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	start := l.Now()
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		return n.Watchdog(tk)
	})
	if err != nil || !l.Now().Equal(start) {
		t.Fatalf("Watchdog returned %v after %v, want nil at once", err, l.Now().Sub(start))
	}
}

func TestWatchdogEnvironment(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	other := strconv.Itoa(os.Getpid() + 1)
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		warn      bool
	}{
		{usec: "", want: 0},
		{usec: "30000000", want: 30 * time.Second},
		{usec: "30000000", pid: pid, want: 30 * time.Second},
		{usec: "30000000", pid: other, want: 0}, // meant for another process
		{usec: "thirty", want: 0, warn: true},
		{usec: "-5", want: 0, warn: true},
		{usec: "30000000", pid: "main", want: 0, warn: true},
	} {
		t.Run(fmt.Sprintf("usec=%q,pid=%q", c.usec, c.pid), func(t *testing.T) {
			m := listenNotify(t)
			t.Setenv("WATCHDOG_USEC", c.usec)
			t.Setenv("WATCHDOG_PID", c.pid)
			rec := &logRecorder{}
			n := New(WithLogger(slog.New(rec)))
			if got := n.WatchdogTimeout(); got != c.want {
				t.Errorf("WatchdogTimeout() = %v, want %v", got, c.want)
			}
			if warned := len(rec.levels()) > 0; warned != c.warn {
				t.Errorf("logged %q, want a warning: %v", rec.levels(), c.warn)
			}
			if c.want == 0 {
				runWatchdogUntilEnd(t, n)
				if got := m.drain(t); len(got) != 0 {
					t.Errorf("sent %q without a watchdog", got)
				}
			}
		})
	}
}

// On virtual time the pings come at once and then every half of the
// timeout, exactly.
func TestWatchdogPingsEveryHalfTimeout(t *testing.T) {
	m := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "10000000") // 10 s: a ping every 5 s
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var counts []int
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("watchdog", n.Watchdog)
		// Look just before and just after each ping is due.
		for _, at := range []time.Duration{1, 4999, 5001, 9999, 10001, 14999, 15001} {
			if err := tk.Sleep(at*time.Millisecond - l.Now().Sub(loop.VirtualEpoch())); err != nil {
				return err
			}
			got, err := m.tryDrain()
			if err != nil {
				return err
			}
			counts = append(counts, len(got))
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	// New pings seen at each look: at 0, 5 s, 10 s and 15 s.
	if want := []int{1, 0, 1, 0, 1, 0, 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("pings seen at each look %v, want %v", counts, want)
	}
	if s := n.Stats(); s.Sent != 4 {
		t.Fatalf("Stats = %+v, want 4 sent", s)
	}
}

// The pings come from a task on the loop: while the loop is hung, none is
// sent, and they resume when it is released. The pings run on the real
// clock every 20 ms; the loop is held for four times that.
func TestNoWatchdogPingWhileTheLoopIsHung(t *testing.T) {
	const timeout = 40 * time.Millisecond
	m := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int(timeout/time.Microsecond)))
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	l := loop.New(loop.WithLogger(slog.New(slog.DiscardHandler))) // the hang is reported as a hog

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, n.Watchdog) }()

	pings := 0
	expectPing := func(when string) {
		t.Helper()
		got, ok := m.recv(t, time.Now().Add(waitLimit))
		if !ok || got != "WATCHDOG=1" {
			t.Fatalf("%s: got %q (%v), want WATCHDOG=1", when, got, ok)
		}
		pings++
	}
	expectPing("first ping")
	expectPing("second ping")

	// Hang the loop goroutine at a moment when no ping is on its way (no
	// Offload outstanding), noting how many had been sent by then.
	hung := make(chan uint64)
	release := make(chan struct{})
	var hang func()
	hang = func() {
		if l.Stats().Offloads > 0 {
			l.CallSoon(hang)
			return
		}
		hung <- n.Stats().Sent //loopvet:ok the test hangs the loop on purpose
		<-release              //loopvet:ok the test hangs the loop on purpose
	}
	if err := l.Post(hang); err != nil {
		t.Fatal(err)
	}
	sentAtHang := <-hung
	// Every ping sent before the hang is already queued on the socket; a
	// ping from anything but the loop would arrive during the hang.
	for deadline := time.Now().Add(4 * timeout); ; {
		got, ok := m.recv(t, deadline)
		if !ok {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
		pings++
	}
	if uint64(pings) != sentAtHang {
		t.Fatalf("%d pings received by the end of the hang, %d sent before it began", pings, sentAtHang)
	}
	close(release)
	expectPing("ping after the hang")

	cancel()
	if err := <-done; !errors.Is(err, loop.ErrCancelled) {
		t.Fatalf("Run = %v, want the watchdog's cancellation", err)
	}
}

// A socket that is gone costs a warning, not one per ping; when it comes
// back, that is logged once too.
func TestSendFailuresAreLoggedOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	t.Setenv("NOTIFY_SOCKET", path)
	rec := &logRecorder{}
	n := New(WithLogger(slog.New(rec)))

	n.Ready()
	n.Status("still no manager")
	n.Status("and again")
	if s := n.Stats(); s.Sent != 0 || s.Failed != 3 {
		t.Fatalf("Stats = %+v, want 3 failed", s)
	}
	want := []string{"WARN systemd notify: send failed", "DEBUG systemd notify: send failed", "DEBUG systemd notify: send failed"}
	if got := rec.levels(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("logged %q, want %q", got, want)
	}

	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n.Status("back")
	n.Status("still back")
	want = append(want, "INFO systemd notify: sending again")
	if got := rec.levels(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
	if s := n.Stats(); s.Sent != 2 || s.Failed != 3 {
		t.Fatalf("Stats = %+v, want 2 sent, 3 failed", s)
	}
}

// OffLoop sends from a loop task and hands back the await's error.
func TestOffLoop(t *testing.T) {
	m := listenNotify(t)
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var cancelledErr error
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		if err := OffLoop(tk, n.Ready); err != nil {
			return err
		}
		tk.Cancel()
		cancelledErr = OffLoop(tk, n.Stopping)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(cancelledErr, loop.ErrCancelled) {
		t.Fatalf("OffLoop on a cancelled task = %v, want ErrCancelled", cancelledErr)
	}
	if got := m.drain(t); len(got) != 1 || got[0] != "READY=1" {
		t.Fatalf("datagrams %q, want just READY=1", got)
	}
}

// fill stops the fake manager from reading, as far as senders can tell: it
// queues datagrams from fresh sockets until a fresh socket cannot queue
// even one, so the queue itself is full (each socket also has a send
// buffer of its own that can run out first).
func (m *fakeManager) fill(t *testing.T) {
	t.Helper()
	for range 1000 {
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: m.path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		queued := 0
		var werr error
		err = raw.Write(func(fd uintptr) bool {
			for {
				if _, werr = unix.Write(int(fd), []byte("filler")); werr != nil {
					return true
				}
				queued++
			}
		})
		if err != nil || !errors.Is(werr, unix.EAGAIN) {
			t.Fatal(err, werr)
		}
		if queued == 0 {
			return
		}
	}
	t.Fatal("could not fill the socket's queue")
}

// A service manager that stops reading holds one ping, off the loop: the
// loop goes on, no second ping is started meanwhile, and the pings resume
// when it reads again.
func TestStuckManagerDoesNotBlockTheLoop(t *testing.T) {
	m := listenNotify(t)
	m.fill(t)
	t.Setenv("WATCHDOG_USEC", "40000") // a ping every 20 ms
	n := New(WithLogger(slog.New(slog.DiscardHandler)))
	l := loop.New(loop.WithLogger(slog.New(slog.DiscardHandler)))
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("watchdog", n.Watchdog)
		for range 10 { // five ping intervals, with the loop running
			if err := tk.Sleep(10 * time.Millisecond); err != nil {
				return err
			}
		}
		if p := l.Stats().Offloads; p != 1 {
			return fmt.Errorf("%d offloaded calls outstanding, want the one stuck ping", p)
		}
		if s := n.Stats(); s != (Stats{}) {
			return fmt.Errorf("Stats = %+v while the manager is not reading", s)
		}
		_, err := loop.Offload(tk, func(context.Context) ([]string, error) { return m.tryDrain() })
		if err != nil {
			return err
		}
		err = loop.WaitFor(tk, waitLimit, func(tk *loop.Task) error {
			for n.Stats().Sent < 2 {
				if err := tk.Sleep(5 * time.Millisecond); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("pings after the manager read again: %w (%+v)", err, n.Stats())
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
}
