package uart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runLoop runs main on l, failing the test on an error. ctx is a safety
// bound so that a regression fails instead of hanging; nothing is asserted
// about elapsed time.
func runLoop(t *testing.T, l *loop.Loop, main loop.TaskFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.Run(ctx, main); err != nil {
		t.Fatalf("loop: %v", err)
	}
}

// withStream starts s.Run as a task, runs body, then cancels Run and
// checks that it stopped cleanly: its error is exactly ErrCancelled, not
// joined with a failure to stop the port's goroutines.
func withStream(s *Stream, body loop.TaskFunc) loop.TaskFunc {
	return func(t *loop.Task) error {
		run := t.Loop().Go("uart", s.Run)
		err := body(t)
		run.Cancel()
		if rerr := run.Wait(t); rerr != loop.ErrCancelled {
			err = errors.Join(err, fmt.Errorf("Run ended with %v, want exactly loop.ErrCancelled", rerr))
		}
		return err
	}
}

// masterSink collects everything written to the port, read from the pty
// master by a goroutine until the master is closed.
type masterSink struct {
	mu   sync.Mutex
	got  []byte
	more chan struct{} // signalled after each read
	done chan struct{}
}

func sinkMaster(master *os.File) *masterSink {
	k := &masterSink{more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			k.mu.Lock()
			k.got = append(k.got, buf[:n]...)
			k.mu.Unlock()
			select {
			case k.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return k
}

// waitFor waits until the sink holds n bytes and returns them. It blocks:
// call it off the loop (loop.Offload), and before the stream closes the
// port: bytes the master has not read when the slave closes may be lost.
func (k *masterSink) waitFor(n int) ([]byte, error) {
	timeout := time.After(30 * time.Second) // safety bound
	for {
		k.mu.Lock()
		got := append([]byte(nil), k.got...)
		k.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-k.more:
		case <-k.done:
			return got, fmt.Errorf("master closed after %d of %d bytes", len(got), n)
		case <-timeout:
			return got, fmt.Errorf("only %d of %d bytes reached the master (safety bound)", len(got), n)
		}
	}
}

// waitRx waits on the loop until cond holds; it is rechecked whenever the
// reader goroutine has posted something.
func waitRx(t *loop.Task, s *Stream, cond func() bool) error {
	for !cond() {
		if err := s.rxq.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

func isStatus(st Status) func(State) bool { return func(s State) bool { return s.Status == st } }

// fakePort is a Port driven by the test: Read returns what is fed, an
// injected error, or (0, nil) after the read timeout.
type fakePort struct {
	data     chan []byte
	readErr  chan error
	panicMsg string

	mu       sync.Mutex
	written  []byte
	writeErr error
	timeout  time.Duration
	closed   bool
}

func newFakePort() *fakePort {
	return &fakePort{data: make(chan []byte, 16), readErr: make(chan error, 1), timeout: time.Millisecond}
}

func (f *fakePort) Read(p []byte) (int, error) {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	f.mu.Lock()
	d, closed := f.timeout, f.closed
	f.mu.Unlock()
	if closed {
		return 0, &serial.PortError{}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case b := <-f.data:
		return copy(p, b), nil
	case err := <-f.readErr:
		return 0, err
	case <-timer.C:
		return 0, nil
	}
}

func (f *fakePort) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	f.written = append(f.written, p...)
	return len(p), nil
}

func (f *fakePort) SetReadTimeout(d time.Duration) error {
	f.mu.Lock()
	f.timeout = d
	f.mu.Unlock()
	return nil
}

func (f *fakePort) Drain() error { return nil }

// inject makes the next Read fail with err.
func (f *fakePort) inject(err error) {
	select {
	case f.readErr <- err:
	default:
		panic("fakePort: an injected error is already pending")
	}
}

func (f *fakePort) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakePort) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
