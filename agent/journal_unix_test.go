//go:build unix

package agent

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/edgeagent/edgeagent/agent/config"
)

// journalStream is JOURNAL_STREAM as systemd would set it for f.
func journalStream(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// logFile is a temporary file standing for the process's standard error.
type logFile struct {
	t   *testing.T
	f   *os.File
	off int
}

func newLogFile(t *testing.T) *logFile {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &logFile{t: t, f: f}
}

// next returns what was written since the last call.
func (l *logFile) next() string {
	l.t.Helper()
	b, err := os.ReadFile(l.f.Name())
	if err != nil {
		l.t.Fatal(err)
	}
	s := string(b[l.off:])
	l.off = len(b)
	return s
}

// Under systemd, with standard error on the journal's stream, the text log
// leaves the time to the journal; JSON keeps it, and a reload between the
// formats keeps the choice. A JOURNAL_STREAM that names another stream (a
// redirected stderr) or none changes nothing.
func TestTextLogLeavesTimeToTheJournal(t *testing.T) {
	text := config.Log{Level: slog.LevelInfo, Format: config.LogText}
	stderr := newLogFile(t)

	t.Setenv("JOURNAL_STREAM", journalStream(t, stderr.f))
	h := NewLogHandler(stderr.f, text)
	log := slog.New(h)
	dev := log.With("device", "relay")
	log.Info("hello", "n", 1)
	if got := stderr.next(); got != "level=INFO msg=hello n=1\n" {
		t.Errorf("text on the journal wrote %q, want no time", got)
	}
	h.Set(config.Log{Level: slog.LevelInfo, Format: config.LogJSON})
	dev.Info("hello")
	if got := stderr.next(); !strings.HasPrefix(got, `{"time":"`) || !strings.Contains(got, `"device":"relay"`) {
		t.Errorf("JSON on the journal wrote %q, want the time", got)
	}
	h.Set(text)
	dev.Info("hello")
	if got := stderr.next(); got != "level=INFO msg=hello device=relay\n" {
		t.Errorf("text again after a reload wrote %q, want no time", got)
	}

	// The variable inherited, but standard error redirected to a file.
	other := newLogFile(t)
	t.Setenv("JOURNAL_STREAM", journalStream(t, other.f))
	slog.New(NewLogHandler(stderr.f, text)).Info("hello")
	if got := stderr.next(); !strings.HasPrefix(got, "time=") {
		t.Errorf("text on a redirected stderr wrote %q, want the time", got)
	}
	for _, env := range []string{"", "not-a-stream"} {
		t.Setenv("JOURNAL_STREAM", env)
		slog.New(NewLogHandler(stderr.f, text)).Info("hello")
		if got := stderr.next(); !strings.HasPrefix(got, "time=") {
			t.Errorf("JOURNAL_STREAM=%q: text wrote %q, want the time", env, got)
		}
	}
}
