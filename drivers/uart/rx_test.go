package uart

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/loop"
)

// feedOnly returns a stream that is never run: tests feed its receive
// buffer directly, as the reader goroutine's posts would.
func feedOnly(t testing.TB, opts ...Option) *Stream {
	t.Helper()
	s, err := New("/dev/fake", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// push feeds bytes (and bytes lost before them) as one post would.
func (s *Stream) push(lost uint64, p string) {
	s.used.Add(int64(len(p)))
	s.onData(nil, lost, []byte(p))
}

// drainLines takes every line ReadLine could return now, describing each
// as the line itself (quoted) or its error's kind and counts.
func drainLines(s *Stream) []string {
	var out []string
	for {
		line, err, ok := s.takeLine()
		if !ok {
			return out
		}
		out = append(out, describe(line, err))
	}
}

func describe(line []byte, err error) string {
	var le *LossError
	switch {
	case err == nil:
		return fmt.Sprintf("%q", line)
	case errors.As(err, &le):
		kind := map[error]string{ErrOverflow: "overflow", ErrLineTooLong: "toolong", ErrCut: "cut"}[le.Err]
		return fmt.Sprintf("%s(dropped %d, discarded %d)", kind, le.Dropped, le.Discarded)
	}
	return "error: " + err.Error()
}

func checkAccounts(t testing.TB, s *Stream) {
	t.Helper()
	st := s.Stats()
	if st.Delivered+st.Dropped+st.Discarded+uint64(st.Buffered) != st.Received {
		t.Errorf("stats do not add up: %+v", st)
	}
	if got := s.used.Load(); got != int64(st.Buffered) {
		t.Errorf("receive budget in use %d, buffered %d", got, st.Buffered)
	}
}

type framingCase struct {
	name   string
	opts   []Option
	chunks []string // fed in turn; each result is collected after its chunk
	want   []string
}

func framingCases() []framingCase {
	return []framingCase{
		{"LF strips one CR", nil, []string{"a\r\nb\nc\r\r\n\n"}, []string{`"a"`, `"b"`, `"c\r"`, `""`}},
		{"LF split", nil, []string{"Li", "ne 1\r", "\n", "Line 2\r\nLi", "ne 3\r\n"}, []string{`"Line 1"`, `"Line 2"`, `"Line 3"`}},
		{"CR", []Option{WithLineEnding(CR)}, []string{"a\rb\n\r"}, []string{`"a"`, `"b\n"`}},
		{"CRLF", []Option{WithLineEnding(CRLF)}, []string{"a\rb\nc\r", "\nd\r\r\n"}, []string{`"a\rb\nc"`, `"d\r"`}},
		{"AnyEOL", []Option{WithLineEnding(AnyEOL)}, []string{"a\r\nb\rc\nd\r", "\n", "e\n\r\r\n"}, []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`, `""`, `""`}},
		{"AnyEOL CR then LF later", []Option{WithLineEnding(AnyEOL)}, []string{"AT\r", "", "\r\nOK\r", "\n"}, []string{`"AT"`, `""`, `"OK"`}},
		{"delimiter", []Option{WithDelimiter(0)}, []string{"a\x00b\r\n\x00"}, []string{`"a"`, `"b\r\n"`}},
		{"too long with ending", []Option{WithMaxLine(4)}, []string{"abcd\nabcde\nxy\n"}, []string{`"abcd"`, "toolong(dropped 0, discarded 6)", `"xy"`}},
		{"too long before ending", []Option{WithMaxLine(4)}, []string{"abcdefgh", "ij\nok\n"}, []string{"toolong(dropped 0, discarded 11)", `"ok"`}},
		{"too long CR kept for CRLF", []Option{WithMaxLine(2), WithLineEnding(CRLF)}, []string{"abcd\r", "\nok\r\n"}, []string{"toolong(dropped 0, discarded 6)", `"ok"`}},
		{"LF line of max length with CR", []Option{WithMaxLine(3)}, []string{"abc\r", "\n"}, []string{`"abc"`}},
	}
}

func TestFraming(t *testing.T) {
	for _, tc := range framingCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []string{"as given", "byte by byte", "all at once"} {
				s := feedOnly(t, tc.opts...)
				var got []string
				switch split {
				case "as given":
					for _, c := range tc.chunks {
						s.push(0, c)
						got = append(got, drainLines(s)...)
					}
				case "byte by byte":
					all := strings.Join(tc.chunks, "")
					for i := range len(all) {
						s.push(0, all[i:i+1])
						got = append(got, drainLines(s)...)
					}
				case "all at once":
					s.push(0, strings.Join(tc.chunks, ""))
					got = drainLines(s)
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("%s: got %v, want %v", split, got, tc.want)
				}
				checkAccounts(t, s)
			}
		})
	}
}

func TestOverflowBreaksTheLine(t *testing.T) {
	s := feedOnly(t)
	s.push(0, "ok\nab")
	s.push(5, "cd\nef\n") // 5 bytes lost between "ab" and "cd"
	got := drainLines(s)
	want := []string{`"ok"`, "overflow(dropped 5, discarded 2)", `"ef"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	if st := s.Stats(); st.Dropped != 5 || st.Overflows != 1 || st.Discarded != 5 || st.Delivered != 6 {
		t.Errorf("stats %+v", st)
	}
	checkAccounts(t, s)

	// Losses at the same place add up into one report.
	s.push(0, "x")
	s.push(3, "")
	s.push(4, "")
	s.push(0, "\nnext\n")
	got = drainLines(s)
	want = []string{"overflow(dropped 7, discarded 1)", `"next"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	checkAccounts(t, s)
}

func TestCutLine(t *testing.T) {
	s := feedOnly(t)
	cause := fmt.Errorf("uart /dev/fake: %w", ErrVanished)
	s.push(0, "done\nhal")
	s.rx.cut(cause)
	s.push(0, "fresh\n")
	s.rx.cut(cause) // at a line boundary: nothing lost, nothing reported
	s.push(0, "again\n")
	got := drainLines(s)
	want := []string{`"done"`, "cut(dropped 0, discarded 3)", `"fresh"`, `"again"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	checkAccounts(t, s)

	// AnyEOL: a '\r' before the cut does not swallow the next connection's
	// first '\n'.
	s = feedOnly(t, WithLineEnding(AnyEOL))
	s.push(0, "a\r")
	s.rx.cut(cause)
	s.push(0, "\nb\n")
	got = drainLines(s)
	want = []string{`"a"`, `""`, `"b"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("AnyEOL: got %v, want %v", got, want)
	}
}

func TestLossErrorMatches(t *testing.T) {
	s := feedOnly(t)
	s.push(0, "ab")
	s.rx.cut(fmt.Errorf("uart /dev/fake: %w", ErrVanished))
	_, err, _ := s.takeLine()
	var le *LossError
	if !errors.As(err, &le) || !errors.Is(err, ErrCut) || !errors.Is(err, ErrVanished) {
		t.Fatalf("error %v: want a *LossError matching ErrCut and ErrVanished", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "/dev/fake") || !strings.Contains(msg, "ReadLine") || !strings.Contains(msg, "2 received bytes") {
		t.Errorf("message %q should name the path, the read and what was discarded", msg)
	}
}

// TestReadExactlyAndRead run on a loop (virtual clock) and feed from a
// task, to check waiting as well as taking.
func TestReadExactlyAndRead(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	s, err := New("/dev/fake", WithRxBuffer(64), WithMaxLine(8), WithLineEnding(AnyEOL))
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, func(tk *loop.Task) error {
		l.CallLater(10, func() { s.push(0, "HDR\r") })
		l.CallLater(20, func() { s.push(0, "\n0123") }) // the '\n' ends HDR's line
		l.CallLater(30, func() { s.push(0, "4567ab") })
		line, err := s.ReadLine(tk)
		if err != nil || string(line) != "HDR" {
			return fmt.Errorf("ReadLine = %q, %v", line, err)
		}
		rec, err := s.ReadExactly(tk, 8)
		if err != nil || string(rec) != "01234567" {
			return fmt.Errorf("ReadExactly(8) = %q, %v", rec, err)
		}
		buf := make([]byte, 10)
		n, err := s.Read(tk, buf)
		if err != nil || string(buf[:n]) != "ab" {
			return fmt.Errorf("Read = %q, %v; want what is there", buf[:n], err)
		}
		// A hole within a fixed-length record discards its first part.
		s.push(0, "xy")
		s.push(3, "zw")
		if rec, err := s.ReadExactly(tk, 3); !errors.Is(err, ErrOverflow) {
			return fmt.Errorf("ReadExactly across a hole = %q, %v; want ErrOverflow", rec, err)
		}
		if n, err := s.Read(tk, buf); err != nil || string(buf[:n]) != "zw" {
			return fmt.Errorf("Read after the hole = %q, %v", buf[:n], err)
		}
		// Raw Read reports a hole between the bytes around it.
		s.push(0, "p")
		s.push(2, "q")
		var got []string
		for range 3 {
			n, err := s.Read(tk, buf)
			got = append(got, describe(buf[:n], err))
		}
		if want := `"p" overflow(dropped 2, discarded 0) "q"`; strings.Join(got, " ") != want {
			return fmt.Errorf("Read around a hole: %v, want %s", got, want)
		}
		if _, err := s.ReadExactly(tk, 65); err == nil || !strings.Contains(err.Error(), "1 to 64") {
			return fmt.Errorf("ReadExactly(65) with a 64-byte buffer: %v", err)
		}
		if n, err := s.Read(tk, nil); n != 0 || err != nil {
			return fmt.Errorf("Read(nil) = %d, %v", n, err)
		}
		return nil
	})
	checkAccounts(t, s)
}

func TestReadAfterClose(t *testing.T) {
	s := feedOnly(t)
	s.push(0, "last\npart")
	s.close()
	l := loop.New()
	runLoop(t, l, func(tk *loop.Task) error {
		if line, err := s.ReadLine(tk); err != nil || string(line) != "last" {
			return fmt.Errorf("ReadLine = %q, %v; want the buffered line first", line, err)
		}
		if line, err := s.ReadLine(tk); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("ReadLine = %q, %v; want ErrClosed", line, err)
		}
		if _, err := s.Read(tk, make([]byte, 8)); err != nil {
			return fmt.Errorf("Read of the partial line: %v", err)
		}
		if _, err := s.Read(tk, make([]byte, 8)); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("Read when empty: %v, want ErrClosed", err)
		}
		if _, err := s.ReadExactly(tk, 1); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("ReadExactly when empty: %v, want ErrClosed", err)
		}
		if err := s.Write(tk, []byte("x")); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("Write after close: %v, want ErrClosed", err)
		}
		if err := s.Drain(tk); !errors.Is(err, ErrClosed) {
			return fmt.Errorf("Drain after close: %v, want ErrClosed", err)
		}
		return nil
	})
}
