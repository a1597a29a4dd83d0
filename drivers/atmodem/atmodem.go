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
// by a primitives.Lock. The command's echo is recognised and dropped. A
// command that takes a body (AT+CMGS: the text of an SMS) waits for the
// device's "> " prompt, then sends the body and Ctrl-Z (Body).
//
// Lines that arrive outside a command, or during one but starting with an
// unsolicited-result prefix (RING, +CMTI: …), are unsolicited result codes
// (URCs), published as events (Events, Subscribe, OnEvent); a URC that
// carries lines after its first (+CMT: and the text of the SMS) takes
// them along, even when they look like a result code.
//
// Run takes at most LinesPerTurn lines in one turn of the loop, then
// yields: a burst of URCs or a reply of thousands of lines does not hold
// the loop. A command is not sent while lines received before it are
// still unread, so the yields do not change which lines belong to it.
//
// The package talks to a LineIO — *uart.Stream in production — and must
// not block the loop or import bridge. Failures are *Error values naming
// the command and what was received.
package atmodem

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/drivers/internal/errs"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// LineIO is what a Modem needs of its stream; *uart.Stream has it (set its
// line ending to uart.AnyEOL: modems end the echo with '\r' alone).
// ReadLineOrPrompt may return *uart.LossError for lost lines and goes on;
// an error matching primitives.ErrClosed (uart.ErrClosed does), or any
// other error, ends the Modem's Run.
type LineIO interface {
	ReadLineOrPrompt(t *loop.Task, prompt []byte) (line []byte, prompted bool, err error)
	Write(t *loop.Task, p []byte) error
}

// Defaults of a Modem's options.
const (
	DefaultQuiet     = 4 * time.Second // the seed's Delay_ms(4000)
	DefaultTimeout   = 10 * time.Second
	DefaultQueueSize = 32
	DefaultPrompt    = "> "
)

// LinesPerTurn is how many lines Run takes from the stream in one turn of
// the loop before it lets the other tasks run, as uart.RecordsPerTurn.
const LinesPerTurn = 64

// Bytes that end a command's body.
const (
	ctrlZ = "\x1a" // send it
	esc   = "\x1b" // cancel it
)

// Error kinds, matched with errors.Is on an *Error.
var (
	ErrError      = errors.New("atmodem: ERROR result")
	ErrCME        = errors.New("atmodem: +CME ERROR result (equipment error)")
	ErrCMS        = errors.New("atmodem: +CMS ERROR result (message service error)")
	ErrFailed     = errors.New("atmodem: call failed") // NO CARRIER, BUSY, NO ANSWER, NO DIALTONE
	ErrNoReply    = errors.New("atmodem: no reply within the quiet time")
	ErrNoFinal    = errors.New("atmodem: reply ended by silence, without a final result code")
	ErrNoPrompt   = errors.New("atmodem: no prompt for the body")
	ErrBroken     = errors.New("atmodem: reply lost in transit") // the stream lost bytes mid-reply
	ErrBadInput   = errors.New("atmodem: bad command")
	ErrNotRunning = errors.New("atmodem: Run is not running")
	ErrRunning    = errors.New("atmodem: Run is already running")
	// ErrClosed: Run has ended (the stream closed, or its task was
	// stopped). It also matches primitives.ErrClosed.
	ErrClosed = errs.Closed("atmodem: modem closed")
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
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "atmodem: "))
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

// URC is an unsolicited result code: its first line (RING, +CMTI: "SM",3)
// and, for a URC that carries more, the lines after it (the text of an
// SMS after +CMT:). Its JSON is {"lines":["+CMT: …","Meet at 6"],
// "time":…}.
type URC struct {
	Lines []string  `json:"lines"`
	Time  time.Time `json:"time"` // when its first line arrived, on the loop's clock
}

func (u URC) String() string { return strings.Join(u.Lines, " / ") }

// MarshalJSON gives the wire form described on URC (never "lines":null).
func (u URC) MarshalJSON() ([]byte, error) {
	type wire URC
	if u.Lines == nil {
		u.Lines = []string{}
	}
	return json.Marshal(wire(u))
}

// URCSpec names an unsolicited result code: the prefix of its first line
// and how many lines follow it.
type URCSpec struct {
	Prefix string
	Lines  int // lines after the first that belong to it
}

// DefaultURCs returns the unsolicited result codes recognised by default:
// calls, messages, registration, USSD. +CMT: and +CBM: carry the message
// on a second line (text and PDU mode alike); +CDS: does only in PDU mode
// (AT+CMGF=0), where it needs WithURCs(URCSpec{"+CDS:", 1}, …).
func DefaultURCs() []URCSpec {
	return []URCSpec{
		{"RING", 0}, {"+CRING:", 0}, {"+CLIP:", 0}, {"+CMTI:", 0}, {"+CMT:", 1}, {"+CDSI:", 0},
		{"+CDS:", 0}, {"+CBM:", 1}, {"+CREG:", 0}, {"+CGREG:", 0}, {"+CEREG:", 0}, {"+CUSD:", 0},
	}
}

// Stats counts a modem's traffic.
type Stats struct {
	Commands     uint64 // commands sent
	Failed       uint64 // commands that returned an error
	URCs         uint64 // unsolicited result codes published
	Dropped      uint64 // URCs lost because a queue was full or closed
	Lost         uint64 // stream losses reported by ReadLineOrPrompt
	StrayPrompts uint64 // prompts that came with no body waiting for them
}

// An Option configures a Modem.
type Option func(*config) error

type config struct {
	quiet        time.Duration
	timeout      time.Duration
	requireFinal bool
	urcs         []URCSpec
	queueSize    int
	onEvent      func(URC)
	term         string
	prompt       string
}

const pkg = "atmodem"

// WithQuiet sets how long the device may stay silent after its last line
// before the reply counts as complete (default 4 s, the seed's).
func WithQuiet(d time.Duration) Option {
	return func(c *config) error { return option.Positive(pkg, "WithQuiet", &c.quiet, d) }
}

// WithTimeout bounds a whole Command, waiting for the modem included
// (default 10 s).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error { return option.Positive(pkg, "WithTimeout", &c.timeout, d) }
}

// WithRequireFinal makes a reply ended by silence an error (ErrNoFinal):
// for real AT modems, which always end with a result code. By default a
// reply of one or more lines ended by silence is complete, as the seed's
// device intends.
func WithRequireFinal() Option {
	return func(c *config) error { return option.Set(&c.requireFinal, true) }
}

// WithURCs replaces the unsolicited result codes recognised during a
// command (default DefaultURCs). A prefix naming the command itself —
// +CREG: during AT+CREG? — is taken as the reply.
func WithURCs(specs ...URCSpec) Option {
	return func(c *config) error {
		for _, u := range specs {
			if strings.TrimSpace(u.Prefix) == "" || u.Lines < 0 {
				return option.Errorf(pkg, fmt.Sprintf("WithURCs(%q, %d)", u.Prefix, u.Lines), "want a prefix that is not blank and 0 or more lines")
			}
		}
		return option.Set(&c.urcs, append([]URCSpec(nil), specs...))
	}
}

// WithQueueSize bounds the queue of URCs (default 32); when full, the
// oldest is dropped and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.queueSize, n) }
}

// OnEvent calls fn on the loop with every URC, before it is queued. fn must
// not block.
func OnEvent(fn func(URC)) Option {
	return func(c *config) error { return option.Set(&c.onEvent, fn) }
}

// WithTerminator sets what ends a command on the wire (default "\r", as
// V.250 says; the seed sends "\r\n").
func WithTerminator(term string) Option {
	return func(c *config) error {
		if term == "" || strings.Trim(term, "\r\n") != "" {
			return option.Errorf(pkg, fmt.Sprintf("WithTerminator(%q)", term), "must be CR and/or LF")
		}
		return option.Set(&c.term, term)
	}
}

// WithPrompt sets the prompt a device sends when it waits for a command's
// body (default "> ").
func WithPrompt(prompt string) Option {
	return func(c *config) error {
		if prompt == "" {
			return option.Errorf(pkg, `WithPrompt("")`, "must not be empty")
		}
		return option.Set(&c.prompt, prompt)
	}
}

// A Modem runs commands on a half-duplex line device. Its methods are used
// from tasks of one loop.
type Modem struct {
	io  LineIO
	cfg config
	out *outlet.Outlet[URC]

	l       *loop.Loop // Run's, from its first run on
	lock    primitives.Lock
	silence *primitives.Delay
	cur     *exchange
	urc     *URC // a URC whose further lines are still coming
	urcLeft int
	running bool
	closed  bool
	stats   Stats

	perTurn int  // lines a turn (LinesPerTurn; tests vary it)
	reading bool // Run waits in a read: it has taken every line received
	readq   loop.WaitQueue
}

// exchange is one command in progress.
type exchange struct {
	cmd      string
	quiet    time.Duration
	body     []byte // with Body: the body, Ctrl-Z included
	locked   bool   // the modem's lock was held
	started  bool   // sent: Run had read the lines before it
	sawLine  bool   // a non-blank line came (the echo can only be the first)
	prompted bool   // the body's prompt came
	bodySent bool
	echoes   []string // lines of the body a device echoing it sends back
	lines    []string
	final    string
	kind     error // nil for success
	code     int
	detail   string
	done     bool
	wq       loop.WaitQueue
}

// New returns a modem talking over io, configured by opts, reporting every
// bad option. Run it as a task; then Command may be called.
func New(io LineIO, opts ...Option) (*Modem, error) {
	cfg := config{
		quiet: DefaultQuiet, timeout: DefaultTimeout, urcs: DefaultURCs(),
		queueSize: DefaultQueueSize, term: "\r", prompt: DefaultPrompt,
	}
	err := option.Apply(&cfg, opts)
	if io == nil {
		err = errors.Join(errors.New("atmodem: New: nil line stream"), err)
	}
	if err != nil {
		return nil, err
	}
	return &Modem{io: io, cfg: cfg, out: outlet.New(cfg.queueSize, cfg.onEvent), perTurn: LinesPerTurn}, nil
}

// Events returns the queue of unsolicited result codes. One consumer takes
// them; another subscribes with Subscribe.
func (m *Modem) Events() *primitives.Queue[URC] { return m.out.Events() }

// Subscribe returns a further queue of size URCs that gets every URC from
// now on, for a second consumer; closing it unsubscribes.
func (m *Modem) Subscribe(size int) *primitives.Queue[URC] { return m.out.Subscribe(size) }

// Stats returns the modem's counters.
func (m *Modem) Stats() Stats {
	st := m.stats
	st.URCs, st.Dropped = m.out.Sent(), m.out.Dropped()
	return st
}

// Run reads the device's lines and routes them — to the command in
// progress or as URCs — until t is interrupted or the stream closes (then
// it returns nil). Lost lines (*uart.LossError) fail the command in
// progress, with ErrBroken, and reading goes on. Run it as a task, next to
// the stream's: g.Go("modem", m.Run). It may run again after it has
// returned, on the same loop, never twice at once (ErrRunning). It takes
// at most LinesPerTurn lines a turn.
func (m *Modem) Run(t *loop.Task) error {
	if m.running {
		return ErrRunning
	}
	if m.silence == nil {
		m.silence, m.l = primitives.NewDelay(t.Loop(), m.cfg.quiet, m.quietExpired), t.Loop()
	} else if m.l != t.Loop() {
		return errors.New("atmodem: Run on another loop than before")
	}
	m.running, m.closed = true, false
	defer func() {
		m.running, m.closed, m.reading = false, true, false
		m.readq.WakeAll()
		m.flushURC()
		m.fail(ErrClosed, "")
	}()
	prompt := []byte(m.cfg.prompt)
	for n := 0; ; n++ {
		if n == m.perTurn {
			n = 0
			if err := t.Yield(); err != nil {
				return err
			}
		}
		// A command waiting to be sent may go once Run suspends in the read
		// (it has taken every line received), not while it yields.
		m.reading = true
		if m.readq.Len() > 0 {
			m.readq.WakeAll()
		}
		line, prompted, err := m.io.ReadLineOrPrompt(t, prompt)
		m.reading = false
		var le *uart.LossError
		switch {
		case err == nil && prompted:
			m.onPrompt()
		case err == nil:
			m.route(t.Loop(), strings.TrimRight(string(line), "\r\n "))
		case errors.As(err, &le):
			m.stats.Lost++
			m.fail(ErrBroken, le.Error())
		case errors.Is(err, primitives.ErrClosed):
			return nil
		default:
			return err
		}
	}
}

// onPrompt lets a command waiting for its body's prompt go on.
func (m *Modem) onPrompt() {
	ex := m.cur
	if ex == nil || ex.done || ex.body == nil || ex.prompted {
		m.stats.StrayPrompts++
		return
	}
	ex.prompted = true
	ex.wq.WakeAll()
}

// route handles one received line.
func (m *Modem) route(l *loop.Loop, line string) {
	if m.urcLeft > 0 { // the rest of a multi-line URC, whatever it says
		m.urc.Lines = append(m.urc.Lines, line)
		if m.urcLeft--; m.urcLeft == 0 {
			m.flushURC()
		}
		return
	}
	ex := m.cur
	if ex == nil || ex.done {
		if line != "" {
			m.startURC(l, line, m.urcLines(line))
		}
		return
	}
	if line == "" {
		m.silence.Trigger(ex.quiet) // blank lines separate parts of a reply: activity
		return
	}
	if n, ok := m.unsolicited(line, ex.cmd); ok {
		m.startURC(l, line, n)
		return
	}
	first := !ex.sawLine
	ex.sawLine = true
	m.silence.Trigger(ex.quiet)
	if first && strings.EqualFold(line, ex.cmd) {
		return // the echo
	}
	if ex.bodySent && ex.isEcho(line) {
		return
	}
	if final, code, kind := ParseFinal(line); final {
		ex.final, ex.kind, ex.code = line, kind, code
		m.finish(ex)
		return
	}
	ex.lines = append(ex.lines, line)
}

// isEcho reports whether line is the device echoing the body back: one of
// its lines, maybe after the prompt, maybe with Ctrl-Z.
func (ex *exchange) isEcho(line string) bool {
	line = strings.TrimRight(line, ctrlZ+esc)
	for i, e := range ex.echoes {
		if line == e || strings.TrimSpace(line) == "> "+e || line == "> "+e {
			ex.echoes = append(ex.echoes[:i], ex.echoes[i+1:]...)
			return true
		}
	}
	return false
}

// urcLines returns how many lines follow a URC line, by its prefix.
func (m *Modem) urcLines(line string) int {
	for _, u := range m.cfg.urcs {
		if strings.HasPrefix(line, u.Prefix) {
			return u.Lines
		}
	}
	return 0
}

// unsolicited reports whether a line arriving during cmd is a URC — it has
// a URC prefix that does not name the command itself — and how many lines
// follow it.
func (m *Modem) unsolicited(line, cmd string) (int, bool) {
	for _, u := range m.cfg.urcs {
		if !strings.HasPrefix(line, u.Prefix) {
			continue
		}
		name := strings.TrimRight(u.Prefix, ": ")
		if len(cmd) >= 2 && strings.EqualFold(cmd[:2], "AT") && strings.HasPrefix(strings.ToUpper(cmd[2:]), strings.ToUpper(name)) {
			return 0, false // +CREG: 0,1 answering AT+CREG?
		}
		return u.Lines, true
	}
	return 0, false
}

// startURC begins a URC; one with lines to come waits for them.
func (m *Modem) startURC(l *loop.Loop, line string, more int) {
	m.flushURC()
	m.urc, m.urcLeft = &URC{Lines: []string{line}, Time: l.Now()}, more
	if more == 0 {
		m.flushURC()
	}
}

// flushURC publishes the URC being collected, if any.
func (m *Modem) flushURC() {
	if m.urc == nil {
		return
	}
	u := *m.urc
	m.urc, m.urcLeft = nil, 0
	m.out.Send(u)
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
	body           *string
}

// Quiet overrides the quiet time for one command (a slow AT+COPS=?).
func Quiet(d time.Duration) CommandOption { return func(o *commandOpts) { o.quiet = d } }

// Timeout overrides the overall timeout for one command.
func Timeout(d time.Duration) CommandOption { return func(o *commandOpts) { o.timeout = d } }

// Body makes a command one that takes a body, as AT+CMGS takes the text of
// an SMS: after the command, Command waits for the device's prompt ("> "),
// sends body and Ctrl-Z, and then collects the reply (+CMGS: 12, OK). No
// prompt within the quiet time is ErrNoPrompt; a command that fails or is
// interrupted before its body was sent sends Esc, so the device does not
// take the next command as the body. body must not contain Ctrl-Z or Esc.
func Body(body string) CommandOption { return func(o *commandOpts) { o.body = &body } }

// Command sends cmd (without terminator: "AT+CSQ") and returns its reply,
// waiting first for any command in progress. The reply ends at a final
// result code, or when the device has been quiet for the quiet time after
// the command was sent or after its latest line. A final result other than
// OK or CONNECT, silence without any line, the overall timeout and the
// stream's errors are returned as an *Error naming the command and the
// lines received.
//
// Command is a checkpoint: an interrupted task sends nothing. If the task
// is interrupted once the reply is complete, the reply wins: Command
// returns it, and the task's next await reports the interruption.
func (m *Modem) Command(t *loop.Task, cmd string, opts ...CommandOption) (Reply, error) {
	o := commandOpts{quiet: m.cfg.quiet, timeout: m.cfg.timeout}
	for _, opt := range opts {
		opt(&o)
	}
	ex := &exchange{cmd: cmd, quiet: o.quiet, code: -1}
	fail := func(err error, detail string) (Reply, error) {
		m.stats.Failed++
		return Reply{}, &Error{Command: cmd, Lines: ex.lines, Final: ex.final, Code: ex.code, Err: err, Detail: detail}
	}
	if err := await.Checkpoint(t); err != nil {
		return fail(err, "")
	}
	switch {
	case cmd == "" || strings.ContainsAny(cmd, "\r\n"):
		return fail(ErrBadInput, "empty, or containing CR or LF")
	case o.quiet <= 0 || o.timeout <= 0:
		return fail(ErrBadInput, fmt.Sprintf("quiet time %v and timeout %v must be positive", o.quiet, o.timeout))
	case o.body != nil && strings.ContainsAny(*o.body, ctrlZ+esc):
		return fail(ErrBadInput, "a body containing Ctrl-Z or Esc")
	case !m.running && m.closed:
		return fail(ErrClosed, "")
	case !m.running:
		return fail(ErrNotRunning, "start Run as a task first")
	}
	if o.body != nil {
		ex.body = []byte(*o.body + ctrlZ)
		ex.echoes = strings.FieldsFunc(*o.body, func(r rune) bool { return r == '\r' || r == '\n' })
	}
	err := loop.WaitFor(t, o.timeout, func(t *loop.Task) error {
		return m.lock.With(t, func(t *loop.Task) error { return m.exchange(t, ex) })
	})
	if ex.done && interrupted(err) {
		err = nil // the reply was complete: it wins, the next await reports the interruption
	}
	switch {
	case errors.Is(err, loop.ErrTimeout) && ex.locked && !ex.started:
		return fail(err, fmt.Sprintf("waited %v for the modem to read the lines received before the command", o.timeout))
	case errors.Is(err, loop.ErrTimeout) && !ex.started:
		return fail(err, fmt.Sprintf("waited %v for the modem, busy with %s", o.timeout, m.busyWith()))
	case errors.Is(err, loop.ErrTimeout):
		return fail(err, fmt.Sprintf("no complete reply within %v", o.timeout))
	case err != nil:
		return fail(err, "")
	case ex.kind != nil:
		return fail(ex.kind, ex.detail)
	case ex.body != nil && !ex.prompted && ex.final == "":
		return fail(ErrNoPrompt, fmt.Sprintf("quiet for %v after the command", o.quiet))
	case ex.final == "" && len(ex.lines) == 0:
		return fail(ErrNoReply, fmt.Sprintf("quiet for %v", o.quiet))
	case ex.final == "" && m.cfg.requireFinal:
		return fail(ErrNoFinal, fmt.Sprintf("quiet for %v", o.quiet))
	}
	return Reply{Command: cmd, Lines: ex.lines, Final: ex.final}, nil
}

// interrupted reports whether err is a task's interruption: cancellation
// or a deadline.
func interrupted(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}

func (m *Modem) busyWith() string {
	if m.cur != nil {
		return m.cur.cmd
	}
	return "another command"
}

// caughtUp waits until Run has taken every line received so far: it
// suspends in a read, not in a yield between batches. Lines received
// before a command was sent are then never taken for its reply.
func (m *Modem) caughtUp(t *loop.Task) error {
	for m.running && !m.reading {
		if err := m.readq.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// exchange sends ex's command and waits for its reply, holding the lock.
func (m *Modem) exchange(t *loop.Task, ex *exchange) error {
	ex.locked = true
	if err := m.caughtUp(t); err != nil {
		return err
	}
	if !m.running {
		ex.kind = ErrClosed
		return nil
	}
	ex.started = true
	m.stats.Commands++
	m.cur = ex
	defer func() {
		m.cur = nil
		m.silence.Stop()
		if ex.body != nil && !ex.bodySent {
			m.cancelBody(t)
		}
	}()
	if err := m.io.Write(t, []byte(ex.cmd+m.cfg.term)); err != nil {
		return err
	}
	m.silence.Trigger(ex.quiet)
	if ex.body != nil {
		if err := m.wait(t, ex, func() bool { return ex.prompted }); err != nil || ex.done {
			return err
		}
		if err := m.caughtUp(t); err != nil || ex.done {
			return err
		}
		ex.bodySent = true
		if err := m.io.Write(t, ex.body); err != nil {
			return err
		}
		m.silence.Trigger(ex.quiet)
	}
	return m.wait(t, ex, func() bool { return false })
}

// wait waits until the reply is done or until is true. An interruption
// that comes after the reply is done loses to it (wake wins).
func (m *Modem) wait(t *loop.Task, ex *exchange, until func() bool) error {
	for !ex.done && !until() {
		if err := ex.wq.Wait(t); err != nil {
			if ex.done {
				return nil
			}
			return err
		}
	}
	return nil
}

// cancelBody sends Esc after a command that may have prompted for a body
// it did not get, so the device does not take the next command as one. It
// runs shielded: the command may have ended by its task's interruption.
func (m *Modem) cancelBody(t *loop.Task) {
	err := loop.Shield(t, func(t *loop.Task) error {
		return loop.WaitFor(t, m.cfg.quiet, func(t *loop.Task) error { return m.io.Write(t, []byte(esc)) })
	})
	if err != nil {
		t.Loop().Logger().Warn("atmodem: could not cancel a body the device may wait for", "err", err)
	}
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
