// Package atmodem drives half-duplex command/response devices over a line
// stream: AT-command modems (GSM/LTE modules, Wi-Fi chips) and the seed's
// auart_hd.py device, which answers a command with lines and then falls
// silent.
//
// A Modem's Run task reads every line. Command sends one command and
// collects its reply: the information lines until a final result code (OK,
// ERROR, +CME ERROR: n, +CMS ERROR: n, NO CARRIER …), or until the device
// has been quiet for the quiet time — a retriggerable primitives.Delay, the
// seed's Delay_ms — or until the overall timeout. Commands are serialised
// by a primitives.Lock. The command's echo is recognised and dropped.
// Lines that arrive outside a command, or during one but starting with an
// unsolicited-result prefix (RING, +CMTI: …), go to the URC queue.
//
// The package talks to a LineIO — *uart.Stream in production, a fake in
// tests — and must not block the loop or import bridge. Failures are
// *Error values naming the command and what was received.
package atmodem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// LineIO is what a Modem needs of its stream; *uart.Stream has it (set its
// line ending to uart.AnyEOL: modems end the echo with '\r' alone). ReadLine
// may return *uart.LossError for lost lines and goes on; uart.ErrClosed, or
// any other error, ends the Modem's Run.
type LineIO interface {
	ReadLine(t *loop.Task) ([]byte, error)
	Write(t *loop.Task, p []byte) error
}

// Defaults of a Modem's options.
const (
	DefaultQuiet    = 4 * time.Second // the seed's Delay_ms(4000)
	DefaultTimeout  = 10 * time.Second
	DefaultURCQueue = 32
)

// Error kinds, matched with errors.Is on an *Error.
var (
	ErrError     = errors.New("ERROR result")
	ErrCME       = errors.New("+CME ERROR result (equipment error)")
	ErrCMS       = errors.New("+CMS ERROR result (message service error)")
	ErrFailed    = errors.New("call failed") // NO CARRIER, BUSY, NO ANSWER, NO DIALTONE
	ErrNoReply   = errors.New("no reply within the quiet time")
	ErrNoFinal   = errors.New("reply ended by silence, without a final result code")
	ErrBroken    = errors.New("reply lost in transit") // the stream lost bytes mid-reply
	ErrBadInput  = errors.New("bad command")
	ErrClosed    = errors.New("modem closed")
	ErrNotActive = errors.New("modem Run is not running")
)

// An Error is a failed Command: what was sent, what came back, and why
// (Err, one of the kinds above, loop.ErrTimeout for the overall timeout,
// the task's interruption, or the stream's error).
type Error struct {
	Command string
	Lines   []string // information lines received
	Final   string   // the final result line, "" if none came
	Code    int      // the +CME/+CMS error number; -1 if none or not numeric
	Err     error
	Detail  string // what the kind alone does not say
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "atmodem: %s: ", e.Command)
	if e.Final != "" {
		b.WriteString(e.Final)
	} else {
		b.WriteString(e.Err.Error())
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	switch len(e.Lines) {
	case 0:
	case 1, 2, 3:
		fmt.Fprintf(&b, "; received %q", e.Lines)
	default:
		fmt.Fprintf(&b, "; received %d lines, the last %q", len(e.Lines), e.Lines[len(e.Lines)-1])
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Reply is a command's answer.
type Reply struct {
	Command string
	Lines   []string // information lines, without echo and blank lines
	Final   string   // OK, CONNECT …; "" when silence ended the reply
}

// Stats counts a modem's traffic.
type Stats struct {
	Commands    uint64 // commands sent
	Failed      uint64 // commands that returned an error
	URCs        uint64 // lines put into the URC queue
	URCsDropped uint64 // URCs dropped, oldest first, because the queue was full
	Lost        uint64 // stream losses reported by ReadLine
}

// An Option configures a Modem.
type Option func(*Modem)

// WithQuiet sets how long the device may stay silent after its last line
// before the reply counts as complete (default 4 s, the seed's).
func WithQuiet(d time.Duration) Option { return func(m *Modem) { m.quiet = d } }

// WithTimeout bounds a whole Command, waiting for the modem included
// (default 10 s).
func WithTimeout(d time.Duration) Option { return func(m *Modem) { m.timeout = d } }

// WithRequireFinal makes a reply ended by silence an error (ErrNoFinal):
// for real AT modems, which always end with a result code. By default a
// reply of one or more lines ended by silence is complete, as the seed's
// device intends.
func WithRequireFinal() Option { return func(m *Modem) { m.requireFinal = true } }

// WithURCPrefixes replaces the prefixes that mark a line arriving during a
// command as unsolicited (default DefaultURCPrefixes). A prefix naming the
// command itself — +CREG: during AT+CREG? — is taken as the reply.
func WithURCPrefixes(p ...string) Option {
	return func(m *Modem) { m.urcPrefixes = append([]string(nil), p...) }
}

// WithURCQueue sets the URC queue's size (default 32); when full, the
// oldest URC is dropped and counted.
func WithURCQueue(n int) Option { return func(m *Modem) { m.urcSize = n } }

// WithTerminator sets what ends a command on the wire (default "\r", as
// V.250 says; the seed sends "\r\n").
func WithTerminator(s string) Option { return func(m *Modem) { m.term = s } }

// DefaultURCPrefixes returns the unsolicited result codes recognised by
// default: calls, messages, registration, USSD.
func DefaultURCPrefixes() []string {
	return []string{"RING", "+CRING:", "+CLIP:", "+CMTI:", "+CMT:", "+CDSI:", "+CBM:", "+CREG:", "+CGREG:", "+CEREG:", "+CUSD:"}
}

// A Modem runs commands on a half-duplex line device. Its methods are used
// from tasks of one loop.
type Modem struct {
	l            *loop.Loop
	io           LineIO
	quiet        time.Duration
	timeout      time.Duration
	requireFinal bool
	urcPrefixes  []string
	urcSize      int
	term         string

	lock    primitives.Lock
	silence *primitives.Delay
	urcs    *primitives.Queue[string]
	cur     *exchange
	running bool
	closed  bool
	stats   Stats
}

// exchange is one command in progress.
type exchange struct {
	cmd     string
	quiet   time.Duration
	started bool // sent: the modem's lock was held
	sawLine bool // a non-blank line came (the echo can only be the first)
	lines   []string
	final   string
	kind    error // nil for success
	code    int
	detail  string
	done    bool
	wq      loop.WaitQueue
}

// New returns a modem talking over io, configured by opts. Run it as a
// task; then Command may be called.
func New(l *loop.Loop, io LineIO, opts ...Option) (*Modem, error) {
	m := &Modem{
		l: l, io: io,
		quiet: DefaultQuiet, timeout: DefaultTimeout,
		urcPrefixes: DefaultURCPrefixes(), urcSize: DefaultURCQueue, term: "\r",
	}
	for _, o := range opts {
		o(m)
	}
	switch {
	case l == nil || io == nil:
		return nil, errors.New("atmodem: New needs a loop and a line stream")
	case m.quiet <= 0:
		return nil, fmt.Errorf("atmodem: quiet time %v: must be positive", m.quiet)
	case m.timeout <= 0:
		return nil, fmt.Errorf("atmodem: timeout %v: must be positive", m.timeout)
	case m.urcSize < 1:
		return nil, fmt.Errorf("atmodem: URC queue size %d: must be positive", m.urcSize)
	case m.term == "" || strings.Trim(m.term, "\r\n") != "":
		return nil, fmt.Errorf("atmodem: terminator %q: must be CR and/or LF", m.term)
	}
	for _, p := range m.urcPrefixes {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("atmodem: URC prefix %q: must not be blank", p)
		}
	}
	m.urcs = primitives.NewQueue[string](m.urcSize)
	m.silence = primitives.NewDelay(l, m.quiet, m.quietExpired)
	return m, nil
}

// URCs returns the queue of unsolicited lines. It is closed when Run ends.
func (m *Modem) URCs() *primitives.Queue[string] { return m.urcs }

// Stats returns the modem's counters.
func (m *Modem) Stats() Stats { return m.stats }

// Run reads the device's lines and routes them — to the command in
// progress or to the URC queue — until t is interrupted or the stream
// closes (then it returns nil). Lost lines (*uart.LossError) fail the
// command in progress, with ErrBroken, and reading goes on. Run it as a
// task, next to the stream's: g.Go("modem", m.Run).
func (m *Modem) Run(t *loop.Task) error {
	if m.running || m.closed {
		return errors.New("atmodem: Run called twice")
	}
	m.running = true
	defer func() {
		m.running, m.closed = false, true
		m.urcs.Close()
		m.fail(ErrClosed, "")
	}()
	for {
		line, err := m.io.ReadLine(t)
		var le *uart.LossError
		switch {
		case err == nil:
			m.route(strings.TrimRight(string(line), "\r\n "))
		case errors.As(err, &le):
			m.stats.Lost++
			m.fail(ErrBroken, le.Error())
		case errors.Is(err, uart.ErrClosed):
			return nil
		default:
			return err
		}
	}
}

// route handles one received line.
func (m *Modem) route(line string) {
	ex := m.cur
	if ex == nil || ex.done {
		if line != "" {
			m.urc(line)
		}
		return
	}
	if line == "" {
		m.silence.Trigger(ex.quiet) // blank lines separate parts of a reply: activity
		return
	}
	if m.unsolicited(line, ex.cmd) {
		m.urc(line)
		return
	}
	first := !ex.sawLine
	ex.sawLine = true
	m.silence.Trigger(ex.quiet)
	if first && strings.EqualFold(line, ex.cmd) {
		return // the echo
	}
	if final, code, kind := ParseFinal(line); final {
		ex.final, ex.kind, ex.code = line, kind, code
		m.finish(ex)
		return
	}
	ex.lines = append(ex.lines, line)
}

// unsolicited reports whether a line arriving during cmd is a URC: it has a
// URC prefix that does not name the command itself.
func (m *Modem) unsolicited(line, cmd string) bool {
	for _, p := range m.urcPrefixes {
		if !strings.HasPrefix(line, p) {
			continue
		}
		name := strings.TrimRight(p, ": ")
		if len(cmd) >= 2 && strings.EqualFold(cmd[:2], "AT") && strings.HasPrefix(strings.ToUpper(cmd[2:]), strings.ToUpper(name)) {
			return false // +CREG: 0,1 answering AT+CREG?
		}
		return true
	}
	return false
}

func (m *Modem) urc(line string) {
	m.stats.URCs++
	if _, dropped, err := m.urcs.PutDropOldest(line); dropped {
		m.stats.URCsDropped++
	} else if err != nil {
		m.stats.URCsDropped++ // closed, or every item promised to a reader
	}
}

// quietExpired is the silence Delay's callback: the reply is over.
func (m *Modem) quietExpired() {
	if ex := m.cur; ex != nil && !ex.done {
		m.finish(ex)
	}
}

func (m *Modem) finish(ex *exchange) {
	ex.done = true
	m.silence.Stop()
	ex.wq.WakeAll()
}

// fail ends the command in progress, if any, with kind.
func (m *Modem) fail(kind error, detail string) {
	if ex := m.cur; ex != nil && !ex.done {
		ex.kind, ex.final, ex.detail = kind, "", detail
		m.finish(ex)
	}
}

// A CommandOption adjusts one Command.
type CommandOption func(*commandOpts)

type commandOpts struct {
	quiet, timeout time.Duration
}

// Quiet overrides the quiet time for one command (a slow AT+COPS=?).
func Quiet(d time.Duration) CommandOption { return func(o *commandOpts) { o.quiet = d } }

// Timeout overrides the overall timeout for one command.
func Timeout(d time.Duration) CommandOption { return func(o *commandOpts) { o.timeout = d } }

// Command sends cmd (without terminator: "AT+CSQ") and returns its reply,
// waiting first for any command in progress. The reply ends at a final
// result code, or when the device has been quiet for the quiet time after
// the command was sent or after its latest line. A final result other than
// OK or CONNECT, silence without any line, the overall timeout and the
// stream's errors are returned as an *Error naming the command and the
// lines received.
func (m *Modem) Command(t *loop.Task, cmd string, opts ...CommandOption) (Reply, error) {
	o := commandOpts{quiet: m.quiet, timeout: m.timeout}
	for _, opt := range opts {
		opt(&o)
	}
	ex := &exchange{cmd: cmd, quiet: o.quiet, code: -1}
	fail := func(err error, detail string) (Reply, error) {
		m.stats.Failed++
		return Reply{}, &Error{Command: cmd, Lines: ex.lines, Final: ex.final, Code: ex.code, Err: err, Detail: detail}
	}
	switch {
	case cmd == "" || strings.ContainsAny(cmd, "\r\n"):
		return fail(ErrBadInput, "empty, or containing CR or LF")
	case o.quiet <= 0 || o.timeout <= 0:
		return fail(ErrBadInput, fmt.Sprintf("quiet time %v and timeout %v must be positive", o.quiet, o.timeout))
	case m.closed:
		return fail(ErrClosed, "")
	case !m.running:
		return fail(ErrNotActive, "start Run as a task first")
	}
	err := loop.WaitFor(t, o.timeout, func(t *loop.Task) error {
		return m.lock.With(t, func(t *loop.Task) error { return m.exchange(t, ex) })
	})
	switch {
	case errors.Is(err, loop.ErrTimeout) && !ex.started:
		return fail(err, fmt.Sprintf("waited %v for the modem, busy with %s", o.timeout, m.busyWith()))
	case errors.Is(err, loop.ErrTimeout):
		return fail(err, fmt.Sprintf("no complete reply within %v", o.timeout))
	case err != nil:
		return fail(err, "")
	case ex.kind != nil:
		return fail(ex.kind, ex.detail)
	case ex.final == "" && len(ex.lines) == 0:
		return fail(ErrNoReply, fmt.Sprintf("quiet for %v", o.quiet))
	case ex.final == "" && m.requireFinal:
		return fail(ErrNoFinal, fmt.Sprintf("quiet for %v", o.quiet))
	}
	return Reply{Command: cmd, Lines: ex.lines, Final: ex.final}, nil
}

func (m *Modem) busyWith() string {
	if m.cur != nil {
		return m.cur.cmd
	}
	return "another command"
}

// exchange sends ex's command and waits for its reply, holding the lock.
func (m *Modem) exchange(t *loop.Task, ex *exchange) error {
	if m.closed {
		ex.kind = ErrClosed
		return nil
	}
	ex.started = true
	m.stats.Commands++
	m.cur = ex
	defer func() {
		m.cur = nil
		m.silence.Stop()
	}()
	if err := m.io.Write(t, []byte(ex.cmd+m.term)); err != nil {
		return err
	}
	m.silence.Trigger(ex.quiet)
	for !ex.done {
		if err := ex.wq.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// ParseFinal tells whether line is a final result code and, if so, the
// failure it reports (kind nil for OK and CONNECT: ErrError, ErrCME, ErrCMS
// or ErrFailed otherwise) and the +CME/+CMS error number (-1 if none, or
// verbose).
func ParseFinal(line string) (final bool, code int, kind error) {
	switch line {
	case "OK":
		return true, -1, nil
	case "ERROR":
		return true, -1, ErrError
	case "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE":
		return true, -1, ErrFailed
	}
	if line == "CONNECT" || strings.HasPrefix(line, "CONNECT ") {
		return true, -1, nil
	}
	kind = ErrCME
	rest, ok := strings.CutPrefix(line, "+CME ERROR:")
	if !ok {
		kind = ErrCMS
		if rest, ok = strings.CutPrefix(line, "+CMS ERROR:"); !ok {
			return false, -1, nil
		}
	}
	code, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil || code < 0 {
		code = -1 // verbose: +CME ERROR: SIM not inserted
	}
	return true, code, kind
}
