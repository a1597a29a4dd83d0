// Package uarttest simulates the device at the other end of a serial line,
// for tests and demos of code that uses the uart and atmodem drivers: a
// scripted peer answering the lines it receives — an AT modem, a meter, the
// seed's half-duplex device — plugged into a real uart.Stream through
// uart.WithOpener(peer.Opener()).
//
// A Peer is a uart.LoopPort: its bytes move on the loop, with no
// goroutine, so a test on a virtual clock runs exactly, the same way every
// time, and timed replies ("after 300 ms, Line 2") come at exact virtual
// times. It must not be used with real hardware, and it keeps no
// package-level state.
package uarttest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
)

// Bytes that end the body of a command that prompted for one (AT+CMGS).
const (
	CtrlZ = 0x1A // send the body
	Esc   = 0x1B // cancel it
)

// A Reply is something the peer sends in answer to a line.
type Reply struct {
	// After is the pause before it, from the previous reply or from the
	// line (or body) it answers.
	After time.Duration
	// Text is sent followed by the peer's Newline, unless Raw.
	Text string
	// Raw sends Text as it is: a prompt, a partial line.
	Raw bool
	// Prompt makes the peer, once Text is sent, take what follows as a
	// body, up to CtrlZ (sent) or Esc (cancelled), and send the replies
	// after this one only then.
	Prompt bool
}

// Line is a reply of one line.
func Line(text string) Reply { return Reply{Text: text} }

// After is a reply of one line after a pause.
func After(d time.Duration, text string) Reply { return Reply{After: d, Text: text} }

// Lines are replies of one line each, with no pause.
func Lines(texts ...string) []Reply {
	r := make([]Reply, len(texts))
	for i, t := range texts {
		r[i] = Line(t)
	}
	return r
}

// Prompt sends prompt (e.g. "\r\n> ") and takes a body, up to CtrlZ or
// Esc; the replies after it answer the body.
func Prompt(prompt string) Reply { return Reply{Text: prompt, Raw: true, Prompt: true} }

type rule struct {
	match  func(string) bool
	answer func(string) []Reply
}

// A Peer is a scripted serial device. Configure it before the stream
// opens it; On, Say, Hangup, Received and Bodies are then called on the
// stream's loop. It is opened once at a time: a second open while a
// connection is up fails, as a tty held exclusively does.
type Peer struct {
	// Echo sends back every byte received, as a modem with echo on
	// (ATE1) does.
	Echo bool
	// Newline ends the lines the peer sends (default "\r\n").
	Newline string

	mu      sync.Mutex
	absent  bool
	opens   int
	current *conn

	rules    []rule
	line     []byte // the line being received
	inBody   bool
	body     []byte
	after    []Reply // the replies that wait for the body
	received []string
	bodies   []string
	unsent   []byte // said before a connection was up
}

// NewPeer returns a peer that answers nothing until told to.
func NewPeer() *Peer { return &Peer{} }

// On makes the peer answer every line equal to line (without its ending)
// with replies.
func (p *Peer) On(line string, replies ...Reply) {
	p.OnFunc(func(l string) bool { return l == line }, func(string) []Reply { return replies })
}

// OnPrefix makes the peer answer every line starting with prefix with
// replies.
func (p *Peer) OnPrefix(prefix string, replies ...Reply) {
	p.OnFunc(func(l string) bool { return strings.HasPrefix(l, prefix) }, func(string) []Reply { return replies })
}

// OnFunc makes the peer answer every line match accepts with what answer
// returns for it. Rules are tried in the order they were added; a line no
// rule accepts gets no answer.
func (p *Peer) OnFunc(match func(line string) bool, answer func(line string) []Reply) {
	p.rules = append(p.rules, rule{match, answer})
}

// Say sends lines now, unprompted (a URC, a meter's reading); before the
// stream has opened the peer, they wait until it does.
func (p *Peer) Say(lines ...string) {
	for _, l := range lines {
		p.send([]byte(l + p.newline()))
	}
}

// SayRaw sends bytes as they are.
func (p *Peer) SayRaw(b []byte) { p.send(b) }

// Received returns the lines the peer has received, without their
// endings (bodies not included).
func (p *Peer) Received() []string { return slices.Clone(p.received) }

// Bodies returns the bodies received after prompts, without CtrlZ.
func (p *Peer) Bodies() []string { return slices.Clone(p.bodies) }

// Hangup ends the connection in progress, as an unplugged adapter does;
// the stream reopens the peer after its back-off unless SetPresent(false)
// was called.
func (p *Peer) Hangup() {
	p.mu.Lock()
	c := p.current
	p.mu.Unlock()
	if c != nil && c.hangup != nil {
		c.hangup(io.EOF)
	}
}

// SetPresent plugs the device in or out: an absent one hangs up and fails
// to open.
func (p *Peer) SetPresent(present bool) {
	p.mu.Lock()
	p.absent = !present
	p.mu.Unlock()
	if !present {
		p.Hangup()
	}
}

// Opens reports how many times the peer was opened.
func (p *Peer) Opens() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opens
}

// ErrAbsent is the open error of an absent peer.
var ErrAbsent = errors.New("uarttest: no such device")

// Opener returns the uart.Opener that opens this peer, for
// uart.WithOpener; the path and mode are not checked.
func (p *Peer) Opener() uart.Opener {
	return func(path string, _ *serial.Mode) (uart.Port, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case p.absent:
			return nil, fmt.Errorf("%s: %w", path, ErrAbsent)
		case p.current != nil:
			return nil, fmt.Errorf("%s: device busy (already open)", path)
		}
		p.opens++
		p.current = &conn{p: p}
		return p.current, nil
	}
}

func (p *Peer) newline() string {
	if p.Newline == "" {
		return "\r\n"
	}
	return p.Newline
}

// send hands bytes to the stream, or keeps them until it is connected.
func (p *Peer) send(b []byte) {
	p.mu.Lock()
	c := p.current
	p.mu.Unlock()
	if c == nil || c.rx == nil {
		p.unsent = append(p.unsent, b...)
		return
	}
	c.rx(slices.Clone(b))
}

// receive takes bytes the stream wrote, on the loop.
func (p *Peer) receive(l *loop.Loop, b []byte) {
	if p.Echo {
		p.send(b)
	}
	for _, c := range b {
		if p.inBody {
			switch c {
			case CtrlZ:
				p.inBody = false
				p.bodies = append(p.bodies, string(p.body))
				p.body = nil
				p.play(l, p.after)
			case Esc:
				p.inBody, p.body, p.after = false, nil, nil
			default:
				p.body = append(p.body, c)
			}
			continue
		}
		if c != '\r' && c != '\n' {
			p.line = append(p.line, c)
			continue
		}
		if len(p.line) == 0 {
			continue
		}
		line := string(p.line)
		p.line = p.line[:0]
		p.received = append(p.received, line)
		for _, r := range p.rules {
			if r.match(line) {
				p.play(l, r.answer(line))
				break
			}
		}
	}
}

// play sends replies at their times, from now; a prompt stops it, and the
// rest waits for the body.
func (p *Peer) play(l *loop.Loop, replies []Reply) {
	var at time.Duration
	for i, r := range replies {
		at += r.After
		text := r.Text
		if !r.Raw {
			text += p.newline()
		}
		if r.Prompt {
			rest := replies[i+1:]
			l.CallLater(at, func() {
				p.send([]byte(text))
				p.inBody, p.body, p.after = true, nil, rest
			})
			return
		}
		l.CallLater(at, func() { p.send([]byte(text)) })
	}
}

// conn is one opening of the peer: the uart.LoopPort the stream gets.
type conn struct {
	p      *Peer
	l      *loop.Loop
	rx     func([]byte)
	hangup func(error)
	closed bool
}

// Attach implements uart.LoopPort.
func (c *conn) Attach(l *loop.Loop, rx func([]byte), hangup func(error)) func() {
	c.l, c.rx, c.hangup = l, rx, hangup
	if b := c.p.unsent; len(b) > 0 {
		c.p.unsent = nil
		l.CallSoon(func() { c.p.send(b) }) // once the stream counts itself connected
	}
	return func() { c.rx, c.hangup = nil, nil }
}

// Write implements uart.Port: the peer takes the bytes on the loop.
func (c *conn) Write(b []byte) (int, error) {
	if c.closed {
		return 0, io.ErrClosedPipe
	}
	c.p.receive(c.l, b)
	return len(b), nil
}

// Read implements uart.Port; a Stream does not call it on a LoopPort.
func (c *conn) Read([]byte) (int, error) { return 0, errors.New("uarttest: Read on a loop port") }

// SetReadTimeout implements uart.Port.
func (c *conn) SetReadTimeout(time.Duration) error { return nil }

// Drain implements uart.Port: written bytes are with the peer at once.
func (c *conn) Drain() error { return nil }

// Close implements uart.Port.
func (c *conn) Close() error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.closed = true
	if c.p.current == c {
		c.p.current = nil
	}
	return nil
}

var _ uart.LoopPort = (*conn)(nil)
