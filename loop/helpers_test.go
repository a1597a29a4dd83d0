package loop

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer collects a loop's log lines; the hog watchdog may log from its
// own goroutine, hence the lock.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(substr string) int { return strings.Count(b.String(), substr) }

// virtualLoop returns a loop on a virtual clock that logs into a buffer.
func virtualLoop(opts ...Option) (*Loop, *VirtualClock, *logBuffer) {
	vc := NewVirtualClock()
	logs := &logBuffer{}
	base := []Option{WithClock(vc), WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}
	return New(append(base, opts...)...), vc, logs
}

// run runs main on l and fails the test if it returns an error.
func run(t *testing.T, l *Loop, main TaskFunc) {
	t.Helper()
	if err := l.Run(context.Background(), main); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// recorder notes what happened when, in virtual time.
type recorder struct {
	vc     *VirtualClock
	events []string
}

func (r *recorder) note(s string) { r.events = append(r.events, s+"@"+r.vc.Elapsed().String()) }

func (r *recorder) want(t *testing.T, want ...string) {
	t.Helper()
	if strings.Join(r.events, " ") != strings.Join(want, " ") {
		t.Fatalf("events:\n got  %v\n want %v", r.events, want)
	}
}

// mustPanic runs fn and returns the panic message, failing if it does not panic.
func mustPanic(t *testing.T, fn func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		msg, _ = r.(string)
	}()
	fn()
	return ""
}
