package uart

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// rxState is the receive buffer, on the loop: the unread bytes, and marks
// where the stream has holes — bytes dropped for want of room, or a
// connection that ended. A read stops at a mark: a record must not be
// glued together across a hole.
type rxState struct {
	buf   []byte
	r     int    // buf[r:] is unread
	base  uint64 // stream offset of buf[r]
	marks []mark // in stream order
	scan  int    // buf[r:r+scan] is known to hold no line ending

	resync  bool // discard through the next line ending (after a broken line)
	long    bool // the line being discarded is too long (not cut by a hole)
	tooLong int  // its bytes discarded so far, reported at its end
	skipLF  bool // AnyEOL: the last line ended in '\r'; a '\n' next is its own
}

type mark struct {
	pos  uint64 // stream offset the mark sits before
	lost uint64 // bytes dropped here
	cut  error  // the connection ended here, and why
}

func (rx *rxState) buffered() int { return len(rx.buf) - rx.r }

// region returns the unread bytes up to the first mark, and whether a mark
// ends them.
func (rx *rxState) region() ([]byte, bool) {
	if len(rx.marks) == 0 {
		return rx.buf[rx.r:], false
	}
	return rx.buf[rx.r : rx.r+int(rx.marks[0].pos-rx.base)], true
}

// feed appends bytes the reader posted, after marking lost ones.
func (rx *rxState) feed(s *Stream, lost uint64, p []byte) {
	if lost > 0 {
		s.stats.Received += lost
		s.stats.Dropped += lost
		s.stats.Overflows++
		end := rx.base + uint64(rx.buffered())
		if n := len(rx.marks); n > 0 && rx.marks[n-1].pos == end && rx.marks[n-1].cut == nil {
			rx.marks[n-1].lost += lost
		} else {
			rx.marks = append(rx.marks, mark{pos: end, lost: lost})
		}
	}
	if len(p) > 0 {
		s.stats.Received += uint64(len(p))
		if rx.r > 0 && len(rx.buf)+len(p) > cap(rx.buf) {
			rx.buf = append(rx.buf[:0], rx.buf[rx.r:]...) // compact before growing
			rx.r = 0
		}
		rx.buf = append(rx.buf, p...)
	}
}

// cut marks the end of a connection.
func (rx *rxState) cut(cause error) {
	rx.marks = append(rx.marks, mark{pos: rx.base + uint64(rx.buffered()), cut: cause})
}

// take consumes n bytes, as delivered or as discarded.
func (s *Stream) take(n int, delivered bool) {
	rx := &s.rx
	if delivered {
		s.stats.Delivered += uint64(n)
	} else {
		s.stats.Discarded += uint64(n)
	}
	rx.r += n
	rx.base += uint64(n)
	rx.scan = 0
	s.used.Add(-int64(n))
	if rx.r == len(rx.buf) {
		rx.buf, rx.r = rx.buf[:0], 0
	}
}

func (rx *rxState) popMark() mark {
	m := rx.marks[0]
	rx.marks = rx.marks[1:]
	if len(rx.marks) == 0 {
		rx.marks = nil
	}
	return m
}

// onData runs on the loop for each post of the reader goroutine.
func (s *Stream) onData(c *conn, lost uint64, p []byte) {
	s.rx.feed(s, lost, p)
	s.rxq.WakeAll()
}

func (s *Stream) loss(op string, err error, dropped uint64, discarded int, cause error) error {
	return &LossError{Path: s.path, Op: op, Err: err, Dropped: dropped, Discarded: discarded, Cause: cause}
}

// skipPendingLF drops the '\n' of a "\r\n" whose '\r' ended the previous
// line (AnyEOL). It reports false when it cannot tell yet.
func (s *Stream) skipPendingLF() bool {
	rx := &s.rx
	if !rx.skipLF {
		return true
	}
	region, atMark := rx.region()
	switch {
	case len(region) > 0:
		rx.skipLF = false
		if region[0] == '\n' {
			s.take(1, true)
		}
	case atMark:
		rx.skipLF = false
	default:
		return false
	}
	return true
}

// findEnd looks for the first line ending in b, from offset from on (bytes
// before it are known to hold none). It returns the line's length without
// the ending, the bytes to consume, and whether a trailing '\r' leaves the
// next '\n' to be skipped.
func (s *Stream) findEnd(b []byte, from int) (content, consumed int, pendingLF, ok bool) {
	var i int
	switch s.cfg.ending {
	case LF:
		if i = bytes.IndexByte(b[from:], '\n'); i < 0 {
			return 0, 0, false, false
		}
		i += from
		content = i
		if i > 0 && b[i-1] == '\r' {
			content--
		}
		return content, i + 1, false, true
	case CR, delimited:
		d := s.cfg.delim
		if s.cfg.ending == CR {
			d = '\r'
		}
		if i = bytes.IndexByte(b[from:], d); i < 0 {
			return 0, 0, false, false
		}
		return i + from, i + from + 1, false, true
	case CRLF:
		from = max(from-1, 0) // a '\r' at the end may have got its '\n'
		if i = bytes.Index(b[from:], []byte("\r\n")); i < 0 {
			return 0, 0, false, false
		}
		return i + from, i + from + 2, false, true
	default: // AnyEOL
		i = bytes.IndexByte(b[from:], '\n')
		if j := bytes.IndexByte(b[from:], '\r'); j >= 0 && (i < 0 || j < i) {
			i = j
		}
		if i < 0 {
			return 0, 0, false, false
		}
		i += from
		if b[i] == '\n' {
			return i, i + 1, false, true
		}
		if i+1 < len(b) {
			if b[i+1] == '\n' {
				return i, i + 2, false, true
			}
			return i, i + 1, false, true
		}
		return i, i + 1, true, true
	}
}

// ReadLine returns the next line, without its ending (see LineEnding),
// waiting until one has arrived. The line is the caller's to keep.
//
// A line longer than the max line length is discarded up to its ending
// and reported as a *LossError with ErrLineTooLong; so is a line broken by
// a receive-buffer overflow (ErrOverflow: the rest of the broken line, up
// to its ending, is discarded too) or by a disconnect (ErrCut). The next
// ReadLine goes on with the following line. Once Run has ended and no
// complete line is left, ReadLine returns ErrClosed.
//
// Like every read of the stream, ReadLine is a checkpoint: an interrupted
// task gets its interruption at once, even with a line waiting, and takes
// nothing — the bytes stay buffered for the next read.
func (s *Stream) ReadLine(t *loop.Task) ([]byte, error) {
	line, _, err := s.readLine(t, nil)
	return line, err
}

// ReadLineOrPrompt is ReadLine that also returns, with prompted true, when
// the bytes at the start of the next line are prompt and no line ending
// follows them yet: the "> " an AT modem sends when it waits for the body
// of AT+CMGS, or a shell's "$ ". The prompt is consumed; what follows it
// on that line comes with the next read. A line that merely starts like
// the prompt, arriving in pieces, can be taken for it: ask for a prompt
// only while one is expected.
func (s *Stream) ReadLineOrPrompt(t *loop.Task, prompt []byte) (line []byte, prompted bool, err error) {
	if len(prompt) == 0 {
		line, err = s.ReadLine(t)
		return line, false, err
	}
	return s.readLine(t, prompt)
}

func (s *Stream) readLine(t *loop.Task, prompt []byte) ([]byte, bool, error) {
	for {
		if err := await.Checkpoint(t); err != nil {
			return nil, false, err
		}
		line, err, ok := s.takeLine()
		if ok {
			return line, false, err
		}
		if prompt != nil && s.takePrompt(prompt) {
			return nil, true, nil
		}
		if s.closed {
			return nil, false, ErrClosed
		}
		if err := s.rxq.Wait(t); err != nil {
			return nil, false, err
		}
	}
}

// takePrompt consumes prompt if the unread bytes, at the start of a line
// and up to the next hole, begin with it (takeLine has found no line
// ending in them).
func (s *Stream) takePrompt(prompt []byte) bool {
	rx := &s.rx
	if rx.resync || !s.skipPendingLF() {
		return false
	}
	region, _ := rx.region()
	if !bytes.HasPrefix(region, prompt) {
		return false
	}
	s.take(len(prompt), true)
	return true
}

// takeLine takes one line, or an error, from the buffer; ok is false when
// it needs more bytes.
func (s *Stream) takeLine() (line []byte, err error, ok bool) {
	rx := &s.rx
	for {
		if !s.skipPendingLF() {
			return nil, nil, false
		}
		region, atMark := rx.region()
		content, consumed, pendingLF, found := s.findEnd(region, rx.scan)
		if found {
			rx.skipLF = pendingLF
			switch {
			case rx.resync:
				rx.resync = false
				s.take(consumed, false)
				if rx.long {
					n := rx.tooLong + consumed
					rx.long, rx.tooLong = false, 0
					return nil, s.loss("ReadLine", ErrLineTooLong, 0, n, nil), true
				}
				continue
			case content > s.cfg.maxLine:
				s.take(consumed, false)
				return nil, s.loss("ReadLine", ErrLineTooLong, 0, consumed, nil), true
			}
			line = bytes.Clone(region[:content])
			s.take(consumed, true)
			return line, nil, true
		}
		rx.scan = len(region)
		keep := 0 // a '\r' that may start a "\r\n"
		if s.cfg.ending == CRLF && len(region) > 0 && region[len(region)-1] == '\r' {
			keep = 1
		}
		if !rx.resync && len(region) > s.cfg.maxLine+1 {
			// Too long: discard as it comes, report once its end arrives,
			// so the report does not depend on how the bytes were split.
			rx.resync, rx.long = true, true
		}
		if rx.resync && len(region)-keep > 0 {
			if rx.long {
				rx.tooLong += len(region) - keep
			}
			s.take(len(region)-keep, false)
			continue
		}
		if !atMark {
			return nil, nil, false
		}
		if err := s.atMark("ReadLine", len(region)); err != nil {
			return nil, err, true
		}
	}
}

// atMark discards the partial record before the mark at the read position,
// takes the mark, and returns the error to report, if any.
func (s *Stream) atMark(op string, partial int) error {
	rx := &s.rx
	s.take(partial, false)
	m := rx.popMark()
	discarded := partial
	switch {
	case rx.long:
		discarded += rx.tooLong
	case rx.resync:
		discarded = 0 // the tail of a line already reported broken
	}
	rx.resync, rx.long, rx.tooLong, rx.skipLF = false, false, 0, false
	switch {
	case m.lost > 0:
		if op == "ReadLine" {
			rx.resync = true // the bytes after the hole end a broken line
		}
		return s.loss(op, ErrOverflow, m.lost, discarded, nil)
	case discarded > 0:
		return s.loss(op, ErrCut, 0, discarded, m.cut)
	}
	return nil
}

// ReadExactly returns the next n bytes, waiting until they have arrived;
// n may be up to the receive buffer's size. If a hole (ErrOverflow, ErrCut)
// falls within them, the bytes before it are discarded and a *LossError
// returned; the next read starts after the hole.
func (s *Stream) ReadExactly(t *loop.Task, n int) ([]byte, error) {
	if n < 1 || n > s.cfg.rxBuffer {
		return nil, fmt.Errorf("uart %s: ReadExactly(%d): want 1 to %d bytes (the receive buffer)", s.path, n, s.cfg.rxBuffer)
	}
	s.rx.resync, s.rx.long, s.rx.tooLong = false, false, 0
	for {
		if err := await.Checkpoint(t); err != nil {
			return nil, err
		}
		if s.skipPendingLF() {
			region, atMark := s.rx.region()
			if len(region) >= n {
				out := bytes.Clone(region[:n])
				s.take(n, true)
				return out, nil
			}
			if atMark {
				if err := s.atMark("ReadExactly", len(region)); err != nil {
					return nil, err
				}
				continue
			}
		}
		if s.closed {
			return nil, ErrClosed
		}
		if err := s.rxq.Wait(t); err != nil {
			return nil, err
		}
	}
}

// Read copies into p the bytes that have arrived, waiting for at least
// one; it never waits to fill p. A hole in the stream is reported once, as
// a *LossError with ErrOverflow, between the bytes before and after it.
func (s *Stream) Read(t *loop.Task, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rx.resync, s.rx.long, s.rx.tooLong = false, false, 0
	for {
		if err := await.Checkpoint(t); err != nil {
			return 0, err
		}
		if s.skipPendingLF() {
			region, atMark := s.rx.region()
			if len(region) > 0 {
				n := copy(p, region)
				s.take(n, true)
				return n, nil
			}
			if atMark {
				if err := s.atMark("Read", 0); err != nil {
					return 0, err
				}
				continue
			}
		}
		if s.closed {
			return 0, ErrClosed
		}
		if err := s.rxq.Wait(t); err != nil {
			return 0, err
		}
	}
}

// RecordsPerTurn is how many records Records cuts from the buffer in one
// turn of the loop before it lets the other tasks run.
const RecordsPerTurn = 64

// Framing says how Records cuts the stream into records.
type Framing struct{ size int }

// Lines frames records by the stream's line ending, as ReadLine does.
func Lines() Framing { return Framing{} }

// Fixed frames records of n bytes each, as ReadExactly does.
func Fixed(n int) Framing { return Framing{size: max(n, -1)} }

// Records cuts the stream into records and puts each into q, waiting for
// room (meanwhile bytes gather in the receive buffer, which overflows,
// counted, if q stays full). Lost records (see LossError) are counted in
// Stats and logged, and framing goes on. Records returns when t is
// interrupted, or when q is closed; when the stream closes it closes q, so
// its consumer ends too. Run it as a task.
//
// A burst already buffered is cut RecordsPerTurn records at a time, with
// a yield between the batches: a 45 KB dump into a roomy queue does not
// hold the loop in one turn.
func (s *Stream) Records(t *loop.Task, f Framing, q *primitives.Queue[[]byte]) error {
	if f.size < 0 || f.size > s.cfg.rxBuffer {
		return fmt.Errorf("uart %s: Records: fixed record size %d: want 1 to %d bytes", s.path, f.size, s.cfg.rxBuffer)
	}
	for n := 0; ; n++ {
		if n == RecordsPerTurn {
			n = 0
			if err := t.Yield(); err != nil {
				return err
			}
		}
		var rec []byte
		var err error
		if f.size == 0 {
			rec, err = s.ReadLine(t)
		} else {
			rec, err = s.ReadExactly(t, f.size)
		}
		var le *LossError
		switch {
		case err == nil:
			if err := q.Put(t, rec); err != nil {
				return err
			}
		case errors.As(err, &le):
			t.Loop().Logger().Warn("uart: record lost", "path", s.path, "err", err)
		case errors.Is(err, ErrClosed):
			q.Close()
			return nil
		default:
			return err
		}
	}
}
