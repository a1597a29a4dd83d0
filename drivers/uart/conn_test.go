package uart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 8 * time.Second}
	var got []time.Duration
	for n := range 6 {
		got = append(got, b.Delay(n, 0.99))
	}
	if fmt.Sprint(got) != "[1s 2s 4s 8s 8s 8s]" {
		t.Errorf("no jitter: %v", got)
	}
	b.Jitter = 0.5
	if d := b.Delay(2, 0.5); d != 3*time.Second {
		t.Errorf("jitter 0.5, r 0.5, attempt 2: %v, want 3s", d)
	}
	if d := b.Delay(2, 0); d != 4*time.Second {
		t.Errorf("jitter 0.5, r 0: %v, want 4s", d)
	}
	// A huge attempt count neither overflows nor exceeds Max.
	huge := Backoff{Min: time.Nanosecond, Max: time.Hour, Jitter: 0}
	if d := huge.Delay(1000, 0); d != time.Hour {
		t.Errorf("attempt 1000: %v, want the cap", d)
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	for _, b := range []Backoff{
		{Min: time.Millisecond, Max: time.Second, Jitter: 0.5},
		{Min: 3 * time.Second, Max: 3 * time.Second, Jitter: 1},
		{Min: 7 * time.Millisecond, Max: time.Minute, Jitter: 0.1},
	} {
		for attempt := range 40 {
			for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
				d := b.Delay(attempt, r)
				full := b.Min
				for range attempt {
					full = min(2*full, b.Max)
				}
				if d > full || d < full-time.Duration(b.Jitter*float64(full)) || d > b.Max || d < 0 {
					t.Fatalf("%+v attempt %d r %v: %v outside [%v·(1−jitter), %v]", b, attempt, r, d, full, full)
				}
			}
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithBaud(0)}, "uart: WithBaud(0): must be positive"},
		{[]Option{WithDataBits(9)}, "uart: WithDataBits(9): must be 5–8"},
		{[]Option{WithParity(Parity(9))}, "uart: WithParity(9): unknown parity"},
		{[]Option{WithStopBits(StopBits(7))}, "uart: WithStopBits(7): unknown stop bits"},
		{[]Option{WithFormat("9N1")}, `uart: WithFormat: character format "9N1": data bits "9"`},
		{[]Option{WithFormat("8X1")}, `parity "X"`},
		{[]Option{WithFormat("8N3")}, `stop bits "3"`},
		{[]Option{WithFormat("8N")}, "too short"},
		{[]Option{WithLineEnding(LineEnding(42))}, "uart: WithLineEnding(42): unknown line ending"},
		{[]Option{WithMaxLine(0)}, "uart: WithMaxLine(0): must be positive"},
		{[]Option{WithMaxLine(100), WithRxBuffer(101)}, "uart /dev/ttyUSB0: receive buffer 101 bytes: must hold a longest line and its ending (max line 100 + 2)"},
		{[]Option{WithTxBuffer(0)}, "uart: WithTxBuffer(0): must be positive"},
		{[]Option{WithReadTimeout(0)}, "uart: WithReadTimeout(0s): must be positive"},
		{[]Option{WithBackoff(Backoff{Min: 0, Max: time.Second})}, "back-off minimum 0s"},
		{[]Option{WithBackoff(Backoff{Min: time.Second, Max: time.Millisecond})}, "back-off maximum 1ms"},
		{[]Option{WithBackoff(Backoff{Min: time.Second, Max: time.Second, Jitter: 2})}, "jitter 2"},
		{[]Option{WithOpener(nil)}, "uart: WithOpener(nil): needs an opener"},
		{[]Option{WithRand(nil)}, "uart: WithRand(nil): needs a function"},
		{[]Option{WithBaud(-1), WithMaxLine(0)}, "uart: WithBaud(-1): must be positive\nuart: WithMaxLine(0): must be positive"},
	} {
		_, err := New("/dev/ttyUSB0", tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v; want an error containing %q", err, tc.want)
		}
	}
	if _, err := New("", WithBaud(0)); err == nil || err.Error() != "uart: New: empty device path\nuart: WithBaud(0): must be positive" {
		t.Errorf("New with an empty path and a bad option: %v", err)
	}
	s, err := New("/dev/x", WithFormat("7e2"), WithBaud(9600))
	if err != nil {
		t.Fatal(err)
	}
	if m := s.cfg.mode; m.DataBits != 7 || m.Parity != serial.EvenParity || m.StopBits != serial.TwoStopBits || m.BaudRate != 9600 {
		t.Errorf("mode %+v, want 9600 7E2", m)
	}
}

// script is an Opener that fails a given number of times, then opens a
// fake port, recording when (on the loop's clock) each attempt was made.
type script struct {
	clock    loop.Clock
	failures int
	port     func() *fakePort

	mu       sync.Mutex
	attempts []time.Time
	ports    []*fakePort
}

func (sc *script) open(path string, mode *serial.Mode) (Port, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.attempts = append(sc.attempts, sc.clock.Now())
	if len(sc.attempts) <= sc.failures {
		return nil, syscall.ENOENT
	}
	p := sc.port()
	sc.ports = append(sc.ports, p)
	return p, nil
}

func (sc *script) gaps() []time.Duration {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(sc.attempts); i++ {
		out = append(out, sc.attempts[i].Sub(sc.attempts[i-1]))
	}
	return out
}

func (sc *script) lastPort() *fakePort {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.ports[len(sc.ports)-1]
}

// TestReconnectBackoffSchedule checks the whole schedule on virtual time:
// growing delays while the device is absent, capped; a connection that
// drops at once keeps the count; one that stayed up for Max resets it.
func TestReconnectBackoffSchedule(t *testing.T) {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	sc := &script{clock: vc, failures: 5, port: newFakePort}
	s, err := New("/dev/ttyUSB-modem", WithOpener(sc.open), WithReadTimeout(time.Millisecond),
		WithBackoff(Backoff{Min: time.Second, Max: 4 * time.Second, Jitter: 0.5}), WithRand(func() float64 { return 0.5 }))
	if err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		for {
			st, err := s.WaitState(tk, func(st State) bool {
				return st.Status == Connected || st.Status == Disconnected && st.Attempt > len(delays)
			})
			if err != nil {
				return err
			}
			if st.Status == Connected {
				break
			}
			delays = append(delays, st.Retry.Sub(st.Since))
		}
		// Drops at once: the count goes on (attempt 6).
		sc.lastPort().inject(io.EOF)
		st, err := s.WaitState(tk, isStatus(Disconnected))
		if err != nil {
			return err
		}
		if st.Attempt != 6 || st.Retry.Sub(st.Since) != 3*time.Second || !errors.Is(st.Err, ErrVanished) {
			return fmt.Errorf("after a short connection: %v, want failure 6, a 3s wait, device vanished", st)
		}
		// Stays up for Max: the count starts again.
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		if err := tk.Sleep(4 * time.Second); err != nil {
			return err
		}
		sc.lastPort().inject(syscall.EIO)
		st, err = s.WaitState(tk, isStatus(Disconnected))
		if err != nil {
			return err
		}
		if st.Attempt != 1 || st.Retry.Sub(st.Since) != 750*time.Millisecond || !errors.Is(st.Err, syscall.EIO) {
			return fmt.Errorf("after a long connection: %v, want failure 1 and a 750ms wait", st)
		}
		return nil
	}))
	if fmt.Sprint(delays) != "[750ms 1.5s 3s 3s 3s]" {
		t.Errorf("published waits %v", delays)
	}
	if g := sc.gaps(); fmt.Sprint(g[:5]) != "[750ms 1.5s 3s 3s 3s]" {
		t.Errorf("gaps between attempts %v", g)
	}
	if st := s.Stats(); st.OpenFailures != 5 || st.Connects < 2 || st.Disconnects != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestReadPanicIsAnError: go.bug.st/serial panics on descriptors above
// 1023; the reader turns that into a failed connection, retried.
func TestReadPanicIsAnError(t *testing.T) {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	sc := &script{clock: vc, port: func() *fakePort {
		p := newFakePort()
		p.panicMsg = "index out of range [1027] with length 16"
		return p
	}}
	s, err := New("/dev/x", WithOpener(sc.open), WithReadTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		st, err := s.WaitState(tk, func(st State) bool { return st.Attempt >= 3 })
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(st.Err), "panicked") || !strings.Contains(fmt.Sprint(st.Err), "index out of range") {
			return fmt.Errorf("state %v: want the panic as the error", st)
		}
		return nil
	}))
	for _, p := range sc.ports {
		if !p.isClosed() {
			t.Error("a port whose Read panicked was not closed")
		}
	}
}

func TestWriteFailureEndsConnection(t *testing.T) {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	sc := &script{clock: vc, port: func() *fakePort {
		p := newFakePort()
		p.writeErr = syscall.EIO
		return p
	}}
	s, err := New("/dev/x", WithOpener(sc.open), WithReadTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		if err := s.Write(tk, []byte("AT\r")); err != nil {
			return fmt.Errorf("Write only queues: %v", err)
		}
		if err := s.Drain(tk); !errors.Is(err, ErrNotConnected) {
			return fmt.Errorf("Drain after a failed write: %v, want ErrNotConnected", err)
		}
		st, err := s.WaitState(tk, isStatus(Disconnected))
		if err != nil {
			return err
		}
		if !errors.Is(st.Err, syscall.EIO) || !strings.Contains(st.Err.Error(), "write") {
			return fmt.Errorf("state %v, want the write's EIO", st)
		}
		return nil
	}))
	if st := s.Stats(); st.Accepted != 3 || st.Written != 0 || st.TxDropped != 3 {
		t.Errorf("stats %+v, want 3 bytes accepted and dropped", st)
	}
}

// TestCancelWhileOpening: Run is cancelled while an open is under way; the
// port opened afterwards is closed, never used, and Run still ends.
func TestCancelWhileOpening(t *testing.T) {
	l := loop.New()
	release := make(chan struct{})
	entered := make(chan struct{})
	port := newFakePort()
	open := func(string, *serial.Mode) (Port, error) {
		close(entered)
		<-release
		return port, nil
	}
	s, err := New("/dev/x", WithOpener(open), WithReadTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, func(tk *loop.Task) error {
		run := tk.Loop().Go("uart", s.Run)
		if _, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
			<-entered
			return struct{}{}, nil
		}); err != nil {
			return err
		}
		run.Cancel()
		// Let Run take the cancel (and ask the connection to stop) before
		// the open completes: posts run before ready tasks.
		if err := tk.Yield(); err != nil {
			return err
		}
		close(release)
		if err := run.Wait(tk); !errors.Is(err, loop.ErrCancelled) {
			return fmt.Errorf("Run: %v, want cancelled", err)
		}
		return nil
	})
	if !port.isClosed() {
		t.Error("the port opened after the cancel was not closed")
	}
	if st := s.Stats(); st.Connects != 0 || s.State().Status != Closed {
		t.Errorf("stats %+v, state %v: want no connection, closed", st, s.State())
	}
}

// TestStopWhileConnectedOnVirtualTime: cancelling Run while the port is
// open stops its goroutines and closes the port, cleanly, on a virtual
// clock too (whose jumps must not cut short the wait for the goroutines).
func TestStopWhileConnectedOnVirtualTime(t *testing.T) {
	for range 20 {
		vc := loop.NewVirtualClock()
		l := loop.New(loop.WithClock(vc))
		sc := &script{clock: vc, port: newFakePort}
		s, err := New("/dev/x", WithOpener(sc.open), WithReadTimeout(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		runLoop(t, l, withStream(s, func(tk *loop.Task) error {
			_, err := s.WaitState(tk, isStatus(Connected))
			return err
		}))
		if !sc.lastPort().isClosed() || s.State().Status != Closed {
			t.Fatalf("port closed %v, state %v", sc.lastPort().isClosed(), s.State())
		}
	}
}

// Run cancelled while the port is opening returns at once; the port,
// opened after that, is closed, never leaked. On a virtual clock the open
// holds the clock still: no back-off or timeout runs past it.
func TestCancelledWhileOpening(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	port := newFakePort()
	open := func(string, *serial.Mode) (Port, error) {
		close(entered)
		<-release
		return port, nil
	}
	s, err := New("/dev/slow", WithOpener(open))
	if err != nil {
		t.Fatal(err)
	}
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var runErr error
	runLoop(t, l, func(tk *loop.Task) error {
		run := tk.Loop().Go("uart", s.Run)
		if _, err := loop.Offload(tk, func(context.Context) (struct{}, error) { <-entered; return struct{}{}, nil }); err != nil {
			return err
		}
		run.Cancel()
		runErr = run.Wait(tk)
		close(release)
		// Wait, off the loop, until the late port has been closed.
		_, err := loop.Offload(tk, func(ctx context.Context) (struct{}, error) {
			for {
				port.mu.Lock()
				closed := port.closed
				port.mu.Unlock()
				if closed {
					return struct{}{}, nil
				}
				select {
				case <-ctx.Done():
					return struct{}{}, ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
		})
		return err
	})
	if !errors.Is(runErr, loop.ErrCancelled) || s.State().Status != Closed {
		t.Errorf("Run: %v, state %v; want ErrCancelled, closed", runErr, s.State())
	}
}
