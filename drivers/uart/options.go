package uart

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"go.bug.st/serial"
)

// Defaults of a Stream's options.
const (
	DefaultBaud        = 115200
	DefaultMaxLine     = 4096
	DefaultRxBuffer    = 64 << 10
	DefaultTxBuffer    = 4 << 10
	DefaultReadTimeout = 100 * time.Millisecond
	DefaultBackoffMin  = 250 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	DefaultJitter      = 0.5
	readChunk          = 4096 // bytes asked of each port Read
)

// Parity is the parity bit of each character.
type Parity uint8

// Parities.
const (
	NoParity Parity = iota
	OddParity
	EvenParity
	MarkParity
	SpaceParity
)

// StopBits is the number of stop bits after each character.
type StopBits uint8

// Stop bits. Linux cannot send 1.5 stop bits; opening such a port fails.
const (
	OneStopBit StopBits = iota
	OnePointFiveStopBits
	TwoStopBits
)

// LineEnding says which bytes end a line for ReadLine and Lines framing.
// The ending is never part of the returned line.
type LineEnding uint8

// Line endings.
const (
	// LF ends a line at '\n' and drops one '\r' right before it, so that
	// devices sending "\r\n" and devices sending "\n" both work. The default.
	LF LineEnding = iota
	// CR ends a line at '\r' (old Macs, some meters). A '\n' is data.
	CR
	// CRLF ends a line only at "\r\n"; a lone '\r' or '\n' is data.
	CRLF
	// AnyEOL ends a line at '\r', '\n' or "\r\n" (universal newlines), the
	// choice for AT modems, whose echo ends in '\r' and replies in "\r\n". A
	// '\n' right after a line's '\r' belongs to that line's ending, even
	// when it arrives later or is read by ReadExactly.
	AnyEOL
	// delimited ends a line at a custom byte (WithDelimiter).
	delimited
)

// String names the line ending.
func (e LineEnding) String() string {
	switch e {
	case LF:
		return "LF"
	case CR:
		return "CR"
	case CRLF:
		return "CRLF"
	case AnyEOL:
		return "AnyEOL"
	case delimited:
		return "delimiter"
	}
	return fmt.Sprintf("LineEnding(%d)", uint8(e))
}

// Backoff is the reconnect policy: after the n-th failure in a row (n from
// 0) the stream waits Min·2ⁿ, capped at Max, of which the fraction Jitter is
// random, so that agents restarted together do not retry in step. The count
// starts again once a connection has stayed up for Max.
type Backoff struct {
	Min    time.Duration
	Max    time.Duration
	Jitter float64 // 0 (exact) to 1 (anywhere in [0, delay))
}

// Delay returns the wait after the attempt-th failure in a row (0 for the
// first), given r in [0, 1) from a random source.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d - time.Duration(b.Jitter*r*float64(d))
}

func (b Backoff) validate() error {
	switch {
	case b.Min <= 0:
		return fmt.Errorf("back-off minimum %v: must be positive", b.Min)
	case b.Max < b.Min:
		return fmt.Errorf("back-off maximum %v: must be at least the minimum %v", b.Max, b.Min)
	case !(b.Jitter >= 0 && b.Jitter <= 1):
		return fmt.Errorf("back-off jitter %v: must be within 0–1", b.Jitter)
	}
	return nil
}

// Port is what a Stream needs of an open serial port; go.bug.st/serial's
// Port has it. Read must return (0, nil) when the read timeout passes with
// nothing received, and an error once the device has gone: io.EOF or
// go.bug.st/serial's PortClosed count as the device vanishing.
type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadTimeout(d time.Duration) error
	Drain() error // waits until written bytes have left the wire (tcdrain)
	Close() error
}

// An Opener opens the port at path. OpenSerial is the default; tests pass
// their own.
type Opener func(path string, mode *serial.Mode) (Port, error)

// OpenSerial opens path with go.bug.st/serial: raw mode, no flow control,
// the modem lines left alone (pseudo-terminals have none).
func OpenSerial(path string, mode *serial.Mode) (Port, error) {
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// An Option configures a Stream.
type Option func(*config) error

type config struct {
	mode        serial.Mode
	ending      LineEnding
	delim       byte
	maxLine     int
	rxBuffer    int
	txBuffer    int
	readTimeout time.Duration
	backoff     Backoff
	open        Opener
	rnd         func() float64
}

func defaultConfig() config {
	return config{
		mode:        serial.Mode{BaudRate: DefaultBaud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit},
		ending:      LF,
		maxLine:     DefaultMaxLine,
		rxBuffer:    DefaultRxBuffer,
		txBuffer:    DefaultTxBuffer,
		readTimeout: DefaultReadTimeout,
		backoff:     Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax, Jitter: DefaultJitter},
		open:        OpenSerial,
		rnd:         rand.Float64,
	}
}

const pkg = "uart"

func bad(call, format string, args ...any) error { return option.Errorf(pkg, call, format, args...) }

// positive checks and sets a size that must be at least 1.
func positive(name string, dst *int, n int) error {
	if n < 1 {
		return bad(fmt.Sprintf("%s(%d)", name, n), "must be positive")
	}
	*dst = n
	return nil
}

// validate checks what no single option can: that the options agree.
func (c *config) validate() error {
	if c.rxBuffer < c.maxLine+2 {
		return fmt.Errorf("receive buffer %d bytes: must hold a longest line and its ending (max line %d + 2)", c.rxBuffer, c.maxLine)
	}
	return nil
}

// WithBaud sets the baud rate (default 115200). Any positive rate is
// passed on; the driver of the port decides what it supports.
func WithBaud(baud int) Option {
	return func(c *config) error { return positive("WithBaud", &c.mode.BaudRate, baud) }
}

// WithDataBits sets the bits per character, 5 to 8 (default 8).
func WithDataBits(n int) Option {
	return func(c *config) error {
		if n < 5 || n > 8 {
			return bad(fmt.Sprintf("WithDataBits(%d)", n), "must be 5–8")
		}
		return option.Set(&c.mode.DataBits, n)
	}
}

// WithParity sets the parity (default NoParity).
func WithParity(p Parity) Option {
	return func(c *config) error {
		switch p {
		case NoParity:
			c.mode.Parity = serial.NoParity
		case OddParity:
			c.mode.Parity = serial.OddParity
		case EvenParity:
			c.mode.Parity = serial.EvenParity
		case MarkParity:
			c.mode.Parity = serial.MarkParity
		case SpaceParity:
			c.mode.Parity = serial.SpaceParity
		default:
			return bad(fmt.Sprintf("WithParity(%d)", p), "unknown parity")
		}
		return nil
	}
}

// WithStopBits sets the stop bits (default OneStopBit).
func WithStopBits(sb StopBits) Option {
	return func(c *config) error {
		switch sb {
		case OneStopBit:
			c.mode.StopBits = serial.OneStopBit
		case OnePointFiveStopBits:
			c.mode.StopBits = serial.OnePointFiveStopBits
		case TwoStopBits:
			c.mode.StopBits = serial.TwoStopBits
		default:
			return bad(fmt.Sprintf("WithStopBits(%d)", sb), "unknown stop bits")
		}
		return nil
	}
}

// WithFormat sets data bits, parity and stop bits from the usual notation:
// "8N1", "7E1", "8N2", "5O1.5" (parity N, O, E, M or S, case-insensitive).
func WithFormat(format string) Option {
	return func(c *config) error {
		bits, parity, stop, err := ParseFormat(format)
		if err != nil {
			return fmt.Errorf("uart: WithFormat: %w", err)
		}
		return errors.Join(WithDataBits(bits)(c), WithParity(parity)(c), WithStopBits(stop)(c))
	}
}

// ParseFormat parses a character format such as "8N1" into its data bits,
// parity and stop bits.
func ParseFormat(format string) (dataBits int, parity Parity, stop StopBits, err error) {
	bad := func(why string) (int, Parity, StopBits, error) {
		return 0, 0, 0, fmt.Errorf("character format %q: %s (expected data bits 5–8, parity N/O/E/M/S, stop bits 1, 1.5 or 2, as in \"8N1\")", format, why)
	}
	if len(format) < 3 {
		return bad("too short")
	}
	dataBits = int(format[0] - '0')
	if dataBits < 5 || dataBits > 8 {
		return bad(fmt.Sprintf("data bits %q", format[:1]))
	}
	switch strings.ToUpper(format[1:2]) {
	case "N":
		parity = NoParity
	case "O":
		parity = OddParity
	case "E":
		parity = EvenParity
	case "M":
		parity = MarkParity
	case "S":
		parity = SpaceParity
	default:
		return bad(fmt.Sprintf("parity %q", format[1:2]))
	}
	switch format[2:] {
	case "1":
		stop = OneStopBit
	case "1.5":
		stop = OnePointFiveStopBits
	case "2":
		stop = TwoStopBits
	default:
		return bad(fmt.Sprintf("stop bits %q", format[2:]))
	}
	return dataBits, parity, stop, nil
}

// WithLineEnding sets what ends a line (default LF).
func WithLineEnding(e LineEnding) Option {
	return func(c *config) error {
		if e > AnyEOL {
			return bad(fmt.Sprintf("WithLineEnding(%d)", e), "unknown line ending")
		}
		return option.Set(&c.ending, e)
	}
}

// WithDelimiter ends lines at the byte d instead (NUL, ETX …); nothing else
// is stripped.
func WithDelimiter(d byte) Option {
	return func(c *config) error {
		c.ending, c.delim = delimited, d
		return nil
	}
}

// WithMaxLine bounds a line's length, ending excluded (default 4096 bytes).
// A longer line is discarded, up to and including its ending, and
// ReadLine reports ErrLineTooLong instead of growing without bound.
func WithMaxLine(n int) Option {
	return func(c *config) error { return positive("WithMaxLine", &c.maxLine, n) }
}

// WithRxBuffer bounds the bytes received and not yet read (default 64 KiB;
// at least the max line + 2). Bytes arriving beyond it are dropped, counted
// in Stats.Dropped and reported by the next read as ErrOverflow: the port
// is always drained, so the kernel never drops bytes unseen.
func WithRxBuffer(n int) Option {
	return func(c *config) error { return positive("WithRxBuffer", &c.rxBuffer, n) }
}

// WithTxBuffer bounds the bytes accepted by Write and not yet handed to the
// port (default 4 KiB); Write waits for room beyond it.
func WithTxBuffer(n int) Option {
	return func(c *config) error { return positive("WithTxBuffer", &c.txBuffer, n) }
}

// WithReadTimeout sets how long each port Read waits before the reader
// goroutine checks whether it should stop (default 100 ms). It bounds how
// long stopping takes; it is not a data timeout.
func WithReadTimeout(d time.Duration) Option {
	return func(c *config) error { return option.Positive(pkg, "WithReadTimeout", &c.readTimeout, d) }
}

// WithBackoff sets the reconnect policy (default 250 ms to 30 s, jitter 0.5).
func WithBackoff(b Backoff) Option {
	return func(c *config) error {
		if err := b.validate(); err != nil {
			return bad(fmt.Sprintf("WithBackoff(%v, %v, %v)", b.Min, b.Max, b.Jitter), "%v", err)
		}
		return option.Set(&c.backoff, b)
	}
}

// WithRand sets the source of back-off jitter, returning values in [0, 1);
// tests pass a seeded one. It is called on the loop only.
func WithRand(r func() float64) Option {
	return func(c *config) error {
		if r == nil {
			return bad("WithRand(nil)", "needs a function")
		}
		return option.Set(&c.rnd, r)
	}
}

// WithOpener replaces go.bug.st/serial: a test double (uarttest.Peer's
// Opener), another transport.
func WithOpener(o Opener) Option {
	return func(c *config) error {
		if o == nil {
			return bad("WithOpener(nil)", "needs an opener")
		}
		return option.Set(&c.open, o)
	}
}

// modeString describes a mode for logs and errors, e.g. "115200 8N1".
func modeString(m serial.Mode) string {
	p := map[serial.Parity]string{serial.NoParity: "N", serial.OddParity: "O", serial.EvenParity: "E", serial.MarkParity: "M", serial.SpaceParity: "S"}[m.Parity]
	s := map[serial.StopBits]string{serial.OneStopBit: "1", serial.OnePointFiveStopBits: "1.5", serial.TwoStopBits: "2"}[m.StopBits]
	return strconv.Itoa(m.BaudRate) + " " + strconv.Itoa(m.DataBits) + p + s
}
