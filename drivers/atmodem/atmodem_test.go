package atmodem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// step is one line a fake device sends, after a pause since the previous
// one (or since the command, for the first).
type step struct {
	after time.Duration
	line  string
}

// every spaces lines apart by d.
func every(d time.Duration, lines ...string) []step {
	var out []step
	for _, l := range lines {
		out = append(out, step{d, l})
	}
	return out
}

type item struct {
	line   []byte
	err    error
	prompt bool
}

// fakeDevice is a LineIO living on the loop: commands written to it are
// answered by script with lines scheduled on the loop's clock, so tests
// on a virtual clock are exact. No goroutines.
type fakeDevice struct {
	l        *loop.Loop
	out      *primitives.Queue[item]
	echo     bool
	script   func(cmd string) []step
	writeErr error
	got      []string
	gotAt    []time.Duration
	start    time.Time
}

func newFake(l *loop.Loop, script func(string) []step) *fakeDevice {
	return &fakeDevice{l: l, out: primitives.NewQueue[item](0), echo: true, script: script, start: l.Now()}
}

func (d *fakeDevice) ReadLineOrPrompt(t *loop.Task, prompt []byte) ([]byte, bool, error) {
	it, err := d.out.Get(t)
	if errors.Is(err, primitives.ErrClosed) {
		return nil, false, uart.ErrClosed
	}
	if err != nil {
		return nil, false, err
	}
	if it.prompt {
		return nil, true, nil
	}
	return it.line, false, it.err
}

func (d *fakeDevice) Write(t *loop.Task, p []byte) error {
	if d.writeErr != nil {
		return d.writeErr
	}
	cmd := strings.TrimRight(string(p), "\r\n")
	d.got = append(d.got, cmd)
	d.gotAt = append(d.gotAt, d.l.Now().Sub(d.start))
	if d.echo {
		d.say(cmd + "\r") // modems echo the command with its CR
	}
	var at time.Duration
	for _, st := range d.script(cmd) {
		at += st.after
		line := st.line
		d.l.CallLater(at, func() { d.say(line) })
	}
	return nil
}

// say makes the device send a line now; "!loss" sends a stream loss,
// "!prompt" the body prompt.
func (d *fakeDevice) say(line string) {
	if line == "!prompt" {
		d.out.TryPut(item{prompt: true})
		return
	}
	if line == "!loss" {
		d.out.TryPut(item{err: &uart.LossError{Path: "/dev/fake", Op: "ReadLine", Err: uart.ErrOverflow, Dropped: 7}})
		return
	}
	d.out.TryPut(item{line: []byte(line)})
}

// virtualModem runs body with a modem over a fake device on virtual time.
func virtualModem(t *testing.T, script func(string) []step, opts []Option, body func(tk *loop.Task, m *Modem, d *fakeDevice) error) {
	t.Helper()
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	d := newFake(l, script)
	m, err := New(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // safety bound
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("modem", m.Run)
		if err := tk.Yield(); err != nil { // let Run start
			return err
		}
		err := body(tk, m, d)
		return errors.Join(err, g.Stop(tk))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// elapsed measures a call in virtual time.
func elapsed(l *loop.Loop, fn func()) time.Duration {
	start := l.Now()
	fn()
	return l.Now().Sub(start)
}

// seedDevice is auart_hd.py's device: any command gets four lines, 300 ms
// apart, and no result code.
func seedDevice(string) []step {
	return every(300*time.Millisecond, "Line 1", "Line 2", "Line 3", "Goodbye")
}

func TestSeedSlowReplyEndsByQuietTimeout(t *testing.T) {
	virtualModem(t, seedDevice, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		var rep Reply
		var err error
		took := elapsed(tk.Loop(), func() { rep, err = m.Command(tk, "AT+SEND") })
		if err != nil {
			return err
		}
		if strings.Join(rep.Lines, "|") != "Line 1|Line 2|Line 3|Goodbye" || rep.Final != "" || rep.Command != "AT+SEND" {
			return fmt.Errorf("reply %+v", rep)
		}
		// The last line at 1.2 s, then 4 s of silence.
		if took != 5200*time.Millisecond {
			return fmt.Errorf("reply complete after %v, want 5.2s", took)
		}
		return nil
	})
}

// TestSeedSilentDevice is the seed's failure case: nothing comes back.
func TestSeedSilentDevice(t *testing.T) {
	silent := func(string) []step { return nil }
	virtualModem(t, silent, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		d.echo = false
		var err error
		took := elapsed(tk.Loop(), func() { _, err = m.Command(tk, "AT") })
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrNoReply) || e.Command != "AT" || len(e.Lines) != 0 {
			return fmt.Errorf("Command to a silent device: %v, want ErrNoReply naming AT", err)
		}
		if took != DefaultQuiet {
			return fmt.Errorf("gave up after %v, want the quiet time %v", took, DefaultQuiet)
		}
		// An echo alone is no reply either.
		d.echo = true
		if _, err := m.Command(tk, "AT"); !errors.Is(err, ErrNoReply) {
			return fmt.Errorf("echo only: %v, want ErrNoReply", err)
		}
		return nil
	})
}

func TestRequireFinal(t *testing.T) {
	virtualModem(t, seedDevice, []Option{WithRequireFinal(), WithQuiet(time.Second)}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		_, err := m.Command(tk, "AT+SEND")
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrNoFinal) || len(e.Lines) != 4 {
			return fmt.Errorf("%v: want ErrNoFinal with the 4 lines", err)
		}
		if !strings.Contains(err.Error(), "AT+SEND") || !strings.Contains(err.Error(), "Goodbye") {
			return fmt.Errorf("message %q should name the command and what came", err)
		}
		return nil
	})
}

func TestFinalResultCodes(t *testing.T) {
	replies := map[string][]step{
		"AT+CSQ":   every(10*time.Millisecond, "", "+CSQ: 21,99", "", "OK"),
		"AT+FAIL":  every(10*time.Millisecond, "ERROR"),
		"AT+CPIN?": every(10*time.Millisecond, "+CME ERROR: 10"),
		"AT+CMGS":  every(10*time.Millisecond, "+CMS ERROR: 500"),
		"AT+VERB":  every(10*time.Millisecond, "+CME ERROR: SIM not inserted"),
		"ATD123;":  every(10*time.Millisecond, "NO CARRIER"),
		"ATA":      every(10*time.Millisecond, "BUSY"),
		"ATO":      every(10*time.Millisecond, "CONNECT 115200"),
	}
	script := func(cmd string) []step { return replies[cmd] }
	virtualModem(t, script, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		for _, tc := range []struct {
			cmd   string
			kind  error
			code  int
			lines string
			final string
		}{
			{"AT+CSQ", nil, -1, "+CSQ: 21,99", "OK"},
			{"AT+FAIL", ErrError, -1, "", "ERROR"},
			{"AT+CPIN?", ErrCME, 10, "", "+CME ERROR: 10"},
			{"AT+CMGS", ErrCMS, 500, "", "+CMS ERROR: 500"},
			{"AT+VERB", ErrCME, -1, "", "+CME ERROR: SIM not inserted"},
			{"ATD123;", ErrFailed, -1, "", "NO CARRIER"},
			{"ATA", ErrFailed, -1, "", "BUSY"},
			{"ATO", nil, -1, "", "CONNECT 115200"},
		} {
			var rep Reply
			var err error
			took := elapsed(tk.Loop(), func() { rep, err = m.Command(tk, tc.cmd) })
			if tc.kind == nil {
				if err != nil || strings.Join(rep.Lines, "|") != tc.lines || rep.Final != tc.final {
					return fmt.Errorf("%s: %+v, %v", tc.cmd, rep, err)
				}
			} else {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, tc.kind) || e.Code != tc.code || e.Final != tc.final || e.Command != tc.cmd {
					return fmt.Errorf("%s: %#v, want kind %v code %d", tc.cmd, err, tc.kind, tc.code)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.cmd) || !strings.Contains(msg, tc.final) {
					return fmt.Errorf("%s: message %q should name the command and the result", tc.cmd, msg)
				}
			}
			// A final result ends the reply at once, not after the quiet time.
			if took >= DefaultQuiet {
				return fmt.Errorf("%s took %v: the final result did not end it", tc.cmd, took)
			}
		}
		if st := m.Stats(); st.Commands != 8 || st.Failed != 6 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

func TestURCRouting(t *testing.T) {
	replies := map[string][]step{
		"AT+CSQ":   {{100 * time.Millisecond, "+CSQ: 21,99"}, {100 * time.Millisecond, `+CMTI: "SM",3`}, {100 * time.Millisecond, "OK"}},
		"AT+CREG?": every(100*time.Millisecond, "+CREG: 0,1", "OK"),
		"AT+COPS?": every(100*time.Millisecond, "+CREG: 1", `+COPS: 0,0,"Operator"`, "OK"),
	}
	virtualModem(t, func(cmd string) []step { return replies[cmd] }, []Option{WithQueueSize(3)}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		d.say("RING") // outside any command
		if err := tk.Yield(); err != nil {
			return err
		}
		rep, err := m.Command(tk, "AT+CSQ")
		if err != nil || strings.Join(rep.Lines, "|") != "+CSQ: 21,99" {
			return fmt.Errorf("AT+CSQ with a URC inside: %+v, %v", rep, err)
		}
		rep, err = m.Command(tk, "AT+CREG?")
		if err != nil || strings.Join(rep.Lines, "|") != "+CREG: 0,1" {
			return fmt.Errorf("AT+CREG? (its own prefix is the reply): %+v, %v", rep, err)
		}
		rep, err = m.Command(tk, "AT+COPS?")
		if err != nil || strings.Join(rep.Lines, "|") != `+COPS: 0,0,"Operator"` {
			return fmt.Errorf("AT+COPS? with +CREG inside: %+v, %v", rep, err)
		}
		var urcs []string
		for !m.Events().Empty() {
			u, err := m.Events().Get(tk)
			if err != nil {
				return err
			}
			urcs = append(urcs, u.String())
		}
		if strings.Join(urcs, "|") != `RING|+CMTI: "SM",3|+CREG: 1` {
			return fmt.Errorf("URCs %q", urcs)
		}
		// A full queue drops the oldest.
		for _, u := range []string{"RING", "RING", "+CMTI: 1", "+CMTI: 2"} {
			d.say(u)
		}
		if err := tk.Sleep(time.Millisecond); err != nil {
			return err
		}
		if first, err := m.Events().Get(tk); err != nil || first.String() != "RING" || m.Events().Len() != 2 {
			return fmt.Errorf("after overflow: first %v (%v), %d left", first, err, m.Events().Len())
		}
		if st := m.Stats(); st.URCs != 7 || st.Dropped != 1 {
			return fmt.Errorf("stats %+v, want 7 URCs, 1 dropped", st)
		}
		return nil
	})
}

// TestOverallTimeout: a device that keeps talking never falls quiet; the
// overall timeout ends the command, with what was received.
func TestOverallTimeout(t *testing.T) {
	chatty := func(string) []step {
		var s []step
		for i := range 100 {
			s = append(s, step{time.Second, fmt.Sprintf("line %d", i)})
		}
		return s
	}
	virtualModem(t, chatty, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		var err error
		took := elapsed(tk.Loop(), func() { _, err = m.Command(tk, "AT+LOG", Timeout(5500*time.Millisecond)) })
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, loop.ErrTimeout) || len(e.Lines) != 5 {
			return fmt.Errorf("%v: want a timeout with 5 lines received", err)
		}
		if took != 5500*time.Millisecond {
			return fmt.Errorf("timed out after %v, want 5.5s", took)
		}
		if !strings.Contains(err.Error(), "line 4") {
			return fmt.Errorf("message %q should show what came", err)
		}
		return nil
	})
}

// TestCommandsSerialised: commands from two tasks never overlap on the
// wire; one that cannot get the modem in time says who holds it.
func TestCommandsSerialised(t *testing.T) {
	slowOK := func(string) []step { return []step{{time.Second, "OK"}} }
	virtualModem(t, slowOK, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		jobs := []loop.Job[Reply]{
			{Name: "a", Fn: func(tk *loop.Task) (Reply, error) { return m.Command(tk, "AT+A") }},
			{Name: "b", Fn: func(tk *loop.Task) (Reply, error) { return m.Command(tk, "AT+B") }},
			{Name: "c", Fn: func(tk *loop.Task) (Reply, error) { return m.Command(tk, "AT+C", Timeout(1500*time.Millisecond)) }},
		}
		res, err := loop.Gather(tk, jobs...)
		if err != nil {
			return err
		}
		if res[0].Err != nil || res[1].Err != nil {
			return fmt.Errorf("a: %v, b: %v", res[0].Err, res[1].Err)
		}
		if fmt.Sprint(d.got) != "[AT+A AT+B]" || fmt.Sprint(d.gotAt) != "[0s 1s]" {
			return fmt.Errorf("written %v at %v, want AT+A at 0s, AT+B after its reply", d.got, d.gotAt)
		}
		var e *Error
		if !errors.As(res[2].Err, &e) || !errors.Is(e, loop.ErrTimeout) || !strings.Contains(e.Error(), "busy with AT+B") {
			return fmt.Errorf("c: %v, want a timeout waiting for the modem busy with AT+B", res[2].Err)
		}
		return nil
	})
}

func TestLostLineFailsTheCommand(t *testing.T) {
	replies := map[string][]step{
		"AT+A": every(10*time.Millisecond, "part", "!loss", "rest", "OK"),
		"AT+B": every(10*time.Millisecond, "OK"),
	}
	virtualModem(t, func(cmd string) []step { return replies[cmd] }, []Option{WithQuiet(time.Second)}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		_, err := m.Command(tk, "AT+A")
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrBroken) || !strings.Contains(e.Error(), "overflow") {
			return fmt.Errorf("AT+A with a loss: %v, want ErrBroken naming the overflow", err)
		}
		// The rest of the broken reply arrives after the command ended: it
		// is unsolicited; the next command is unaffected.
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		if _, err := m.Command(tk, "AT+B"); err != nil {
			return fmt.Errorf("AT+B after the loss: %v", err)
		}
		if st := m.Stats(); st.Lost != 1 || st.URCs != 2 {
			return fmt.Errorf("stats %+v, want 1 loss and the 2 stray lines as URCs", st)
		}
		return nil
	})
}

func TestBadInputAndLifecycle(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	d := newFake(l, func(string) []step { return every(time.Millisecond, "OK") })
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithQuiet(0)}, "atmodem: WithQuiet(0s): must be positive"},
		{[]Option{WithTimeout(-1)}, "atmodem: WithTimeout(-1ns): must be positive"},
		{[]Option{WithQueueSize(0)}, "atmodem: WithQueueSize(0): must be at least 1"},
		{[]Option{WithTerminator("x")}, `atmodem: WithTerminator("x"): must be CR and/or LF`},
		{[]Option{WithURCs(URCSpec{"RING", 0}, URCSpec{" ", 0})}, `atmodem: WithURCs(" ", 0)`},
		{[]Option{WithURCs(URCSpec{"+CMT:", -1})}, `atmodem: WithURCs("+CMT:", -1)`},
		{[]Option{WithPrompt("")}, `atmodem: WithPrompt(""): must not be empty`},
	} {
		if _, err := New(d, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %s: %v", tc.want, err)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New without a stream succeeded")
	}
	m, err := New(d, WithTerminator("\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		if _, err := m.Command(tk, "AT"); !errors.Is(err, ErrNotRunning) {
			return fmt.Errorf("before Run: %v, want ErrNotRunning", err)
		}
		run := tk.Loop().Go("modem", m.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		for _, bad := range []string{"", "AT\r", "AT\nAT"} {
			if _, err := m.Command(tk, bad); !errors.Is(err, ErrBadInput) {
				return fmt.Errorf("Command(%q): %v, want ErrBadInput", bad, err)
			}
		}
		if _, err := m.Command(tk, "AT", Quiet(0)); !errors.Is(err, ErrBadInput) {
			return fmt.Errorf("Quiet(0): %v, want ErrBadInput", err)
		}
		if _, err := m.Command(tk, "AT"); err != nil {
			return err
		}
		d.writeErr = fmt.Errorf("uart /dev/x: write: %w", uart.ErrNotConnected)
		if _, err := m.Command(tk, "AT"); !errors.Is(err, uart.ErrNotConnected) {
			return fmt.Errorf("stream down: %v, want the stream's error", err)
		}
		d.writeErr = nil
		// A second Run at once is refused.
		if err := m.Run(tk); !errors.Is(err, ErrRunning) {
			return fmt.Errorf("a second Run at once: %v, want ErrRunning", err)
		}
		// The stream closes: Run ends, commands fail with ErrClosed, which
		// is also primitives.ErrClosed.
		d.out.Close()
		if err := run.Wait(tk); err != nil {
			return fmt.Errorf("Run after the stream closed: %v", err)
		}
		if _, err := m.Command(tk, "AT"); !errors.Is(err, ErrClosed) || !errors.Is(err, primitives.ErrClosed) {
			return fmt.Errorf("after Run: %v, want ErrClosed", err)
		}
		// Run again, on a stream that works again: commands work again.
		d.out = primitives.NewQueue[item](0)
		run = tk.Loop().Go("modem", m.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		if _, err := m.Command(tk, "AT"); err != nil {
			return fmt.Errorf("after Run started again: %v", err)
		}
		run.Cancel()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.got) != "[AT AT]" {
		t.Errorf("written %q", d.got)
	}
}

// TestCommandInProgressWhenRunEnds: the command fails with ErrClosed.
func TestCommandInProgressWhenRunEnds(t *testing.T) {
	never := func(string) []step { return nil }
	virtualModem(t, never, []Option{WithQuiet(time.Hour), WithTimeout(2 * time.Hour)}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		tk.Loop().CallLater(time.Second, d.out.Close)
		_, err := m.Command(tk, "AT")
		if !errors.Is(err, ErrClosed) {
			return fmt.Errorf("%v, want ErrClosed", err)
		}
		return nil
	})
}

func TestParseFinal(t *testing.T) {
	for _, tc := range []struct {
		line  string
		kind  error
		code  int
		final bool
	}{
		{"OK", nil, -1, true},
		{"CONNECT", nil, -1, true},
		{"CONNECT 9600", nil, -1, true},
		{"ERROR", ErrError, -1, true},
		{"+CME ERROR: 3", ErrCME, 3, true},
		{"+CME ERROR:3", ErrCME, 3, true},
		{"+CMS ERROR: 321", ErrCMS, 321, true},
		{"+CMS ERROR: -5", ErrCMS, -1, true},
		{"+CME ERROR: phone failure", ErrCME, -1, true},
		{"NO DIALTONE", ErrFailed, -1, true},
		{"NO ANSWER", ErrFailed, -1, true},
		{"OKAY", nil, -1, false},
		{"CONNECTED", nil, -1, false},
		{"+CSQ: 1,2", nil, -1, false},
		{"", nil, -1, false},
	} {
		final, code, kind := ParseFinal(tc.line)
		if kind != tc.kind || code != tc.code || final != tc.final {
			t.Errorf("ParseFinal(%q) = %v, %d, %v; want %v, %d, %v", tc.line, kind, code, final, tc.kind, tc.code, tc.final)
		}
	}
}

func FuzzParseFinal(f *testing.F) {
	for _, s := range []string{"OK", "ERROR", "+CME ERROR: 10", "+CMS ERROR: x", "CONNECT 1", "NO CARRIER", "+CME ERROR: 99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		final, code, kind := ParseFinal(line)
		if !final && (kind != nil || code != -1) {
			t.Fatalf("ParseFinal(%q): not final but kind %v code %d", line, kind, code)
		}
		if code < -1 || code >= 0 && kind != ErrCME && kind != ErrCMS {
			t.Fatalf("ParseFinal(%q): code %d with kind %v", line, code, kind)
		}
	})
}

// A multi-line URC — +CMT: with the text of an SMS on the next line —
// arriving in the middle of a command's reply is taken whole: its body
// line is not a line of the reply, and the URC carries both lines.
func TestMultiLineURCInsideReply(t *testing.T) {
	replies := map[string][]step{
		"AT+CSQ": every(100*time.Millisecond, `+CMT: "+441234",,"24/05/01,12:00:00+04"`, "Meet at 6", "+CSQ: 21,99", "OK"),
	}
	virtualModem(t, func(cmd string) []step { return replies[cmd] }, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		rep, err := m.Command(tk, "AT+CSQ")
		if err != nil || strings.Join(rep.Lines, "|") != "+CSQ: 21,99" {
			return fmt.Errorf("AT+CSQ with a +CMT inside: %+v, %v", rep, err)
		}
		// Outside a command too, and a text that looks like a result code
		// is still the message.
		d.say(`+CMT: "+449876",,"24/05/01,12:01:00+04"`)
		d.say("OK")
		d.say("RING")
		if err := tk.Sleep(time.Millisecond); err != nil {
			return err
		}
		var urcs []string
		for !m.Events().Empty() {
			u, _ := m.Events().TryGet()
			urcs = append(urcs, fmt.Sprintf("%q", u.Lines))
		}
		want := `[["+CMT: \"+441234\",,\"24/05/01,12:00:00+04\"" "Meet at 6"] ["+CMT: \"+449876\",,\"24/05/01,12:01:00+04\"" "OK"] ["RING"]]`
		if fmt.Sprint(urcs) != want {
			return fmt.Errorf("URCs %v\nwant %s", urcs, want)
		}
		return nil
	})
}
