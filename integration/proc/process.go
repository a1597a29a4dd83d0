package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options of a child process.
type Options struct {
	// Args are the arguments after the program name.
	Args []string
	// Env entries (KEY=value) are added to the test process's environment;
	// later entries win.
	Env []string
	// Dir is the working directory; default the test's.
	Dir string
}

// Line is one line of the child's output.
type Line struct {
	N      int    // index among all captured lines, from 0
	Stream string // "stdout" or "stderr"
	Text   string // without the line ending
	At     time.Time
}

func (l Line) String() string { return fmt.Sprintf("%s: %s", l.Stream, l.Text) }

// Exit is how a child ended.
type Exit struct {
	Code   int            // exit code; -1 when a signal ended it
	Signal syscall.Signal // the signal that ended it, or 0
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return "killed by " + e.Signal.String()
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Process is a running (or ended) child process.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the child was reaped

	mu      sync.Mutex
	lines   []Line
	changed chan struct{} // closed and replaced at every new line
	exit    Exit
	waitErr error
}

// ErrTimeout is wrapped by the Await methods when the deadline passes.
var ErrTimeout = errors.New("deadline passed")

var errNoRSS = errors.New("no VmRSS for the process")

// Start starts bin with o and registers a cleanup that kills it if it is
// still running (and, when the test failed, logs its last output lines).
func Start(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	cmd := exec.Command(bin, o.Args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{name: bin, cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	stdout, stderr := &lineWriter{p: p, stream: "stdout"}, &lineWriter{p: p, stream: "stderr"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The child may leave a grandchild holding its output open: do not
	// wait for that longer than this after the child exits.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		p.mu.Lock()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		p.exit = Exit{Code: cmd.ProcessState.ExitCode()}
		if ws.Signaled() {
			p.exit.Signal = ws.Signal()
		}
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			p.waitErr = err
		}
		p.notify()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s (pid %d) not reaped 10s after SIGKILL", bin, p.PID())
			}
		}
		if t.Failed() {
			t.Logf("%s output (last 50 lines):\n%s", bin, p.tail(50))
		}
	})
	return p
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the child has ended (and was reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Lines returns a copy of the output lines so far, both streams in the
// order they were read.
func (p *Process) Lines() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.lines...)
}

// LineCount is the number of lines so far: pass it to AwaitLine/WaitLine
// to match only what comes next.
func (p *Process) LineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Output is all captured output, one line each.
func (p *Process) Output() string { return p.tail(-1) }

func (p *Process) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := 0
	if n >= 0 {
		from = max(0, len(p.lines)-n)
	}
	var b strings.Builder
	for _, l := range p.lines[from:] {
		b.WriteString(l.String() + "\n")
	}
	return b.String()
}

// AwaitLine waits until a line with index ≥ after matches re and returns
// it. It fails early when the child exits without such a line.
func (p *Process) AwaitLine(after int, re *regexp.Regexp, timeout time.Duration) (Line, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for _, l := range p.lines[min(after, len(p.lines)):] {
			if re.MatchString(l.Text) {
				p.mu.Unlock()
				return l, nil
			}
		}
		ch, n := p.changed, len(p.lines)
		p.mu.Unlock()
		select {
		case <-p.done:
			// Lines are complete once the child was reaped: one last look.
			if l, ok := p.find(after, re); ok {
				return l, nil
			}
			return Line{}, fmt.Errorf("%s ended (%v) without a line matching %q", p.name, p.exitNow(), re)
		default:
		}
		select {
		case <-ch:
		case <-p.done:
		case <-timer.C:
			return Line{}, fmt.Errorf("no line matching %q within %v (%d lines so far): %w", re, timeout, n, ErrTimeout)
		}
	}
}

func (p *Process) find(after int, re *regexp.Regexp) (Line, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines[min(after, len(p.lines)):] {
		if re.MatchString(l.Text) {
			return l, true
		}
	}
	return Line{}, false
}

// WaitLine is AwaitLine that fails the test (with the child's recent
// output) instead of returning an error.
func (p *Process) WaitLine(t testing.TB, after int, re *regexp.Regexp, timeout time.Duration) Line {
	t.Helper()
	l, err := p.AwaitLine(after, re, timeout)
	if err != nil {
		t.Fatalf("%v\nrecent output:\n%s", err, p.tail(20))
	}
	return l
}

// Signal sends sig to the child; it fails the test if that is impossible
// (the child has already been reaped).
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// AwaitExit waits up to timeout for the child to end and reports how.
func (p *Process) AwaitExit(timeout time.Duration) (Exit, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return Exit{}, fmt.Errorf("%s (pid %d) still running after %v: %w", p.name, p.PID(), timeout, ErrTimeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit, p.waitErr
}

// Wait is AwaitExit that fails the test on a timeout.
func (p *Process) Wait(t testing.TB, timeout time.Duration) Exit {
	t.Helper()
	e, err := p.AwaitExit(timeout)
	if err != nil {
		t.Fatalf("%v\nrecent output:\n%s", err, p.tail(20))
	}
	return e
}

func (p *Process) exitNow() Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Kill sends SIGKILL and waits (10 s) until the child was reaped.
func (p *Process) Kill(t testing.TB) Exit {
	t.Helper()
	if !p.Exited() {
		p.Signal(t, syscall.SIGKILL)
	}
	return p.Wait(t, 10*time.Second)
}

// RSS is the child's resident set size in bytes (Linux: VmRSS).
func (p *Process) RSS() (int64, error) { return rss(p.PID()) }

func (p *Process) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// lineWriter splits one output stream into lines.
type lineWriter struct {
	p       *Process
	stream  string
	partial []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial = append(w.partial, b...)
			return n, nil
		}
		w.emit(append(w.partial, b[:i]...))
		w.partial = nil
		b = b[i+1:]
	}
}

// flush emits a last line without a line ending.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = nil
	}
}

func (w *lineWriter) emit(text []byte) {
	s := strings.TrimSuffix(string(text), "\r")
	w.p.mu.Lock()
	w.p.lines = append(w.p.lines, Line{N: len(w.p.lines), Stream: w.stream, Text: s, At: time.Now()})
	w.p.notify()
	w.p.mu.Unlock()
}
