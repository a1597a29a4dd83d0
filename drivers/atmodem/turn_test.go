package atmodem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// costPerByte is what taking a line costs, charged to the virtual clock:
// the uart_lines device's figure on a slow board (2.2 µs a byte, see the
// agent's TestUARTLinesBurstIsBatched), standing in for reading and
// routing an AT line.
const costPerByte = 2200 * time.Nanosecond

// costly charges the virtual clock for every line read, so the loop's hog
// detector sees the time a burst takes, and counts the lines.
type costly struct {
	LineIO
	vc    *loop.VirtualClock
	reads int
	cut   int // +CMT: lines that were the last of a batch
}

func (c *costly) ReadLineOrPrompt(t *loop.Task, prompt []byte) ([]byte, bool, error) {
	line, prompted, err := c.LineIO.ReadLineOrPrompt(t, prompt)
	if err == nil {
		c.reads++
		if c.reads%LinesPerTurn == 0 && strings.HasPrefix(string(line), "+CMT:") {
			c.cut++
		}
		c.vc.Advance(time.Duration(len(line)+2) * costPerByte)
	}
	return line, prompted, err
}

// A burst of 2000 URCs, then a reply of 5000 lines with URCs among them
// (RING; +CMT: with its text, a pair sometimes cut by a batch boundary),
// all buffered at once, are taken LinesPerTurn lines a turn: a task
// beside Run, yielding in a loop, sees at most that many lines read
// between two of its turns, and the hog detector (virtual time, 10 ms)
// sees no hog. Every line arrives, in order, where it belongs. Without
// the bound the reply alone is one hog of ~630 ms (a batch is ~7 ms) and
// the neighbour sees the whole reply in one turn.
func TestBurstTakenInBatches(t *testing.T) {
	const urcBurst, replyLines = 2000, 5000
	var reply, wantLines, wantURCs []string
	for i := range urcBurst {
		wantURCs = append(wantURCs, fmt.Sprintf(`+CMTI: "SM",%d`, i))
	}
	for i := range replyLines {
		switch {
		case i%101 == 50: // 101 is prime to 64: some pair straddles a batch boundary
			reply = append(reply, fmt.Sprintf(`+CMT: "+44%d",,"24/05/01,12:00:00+04"`, i), "OK")
			wantURCs = append(wantURCs, fmt.Sprintf(`+CMT: "+44%d",,"24/05/01,12:00:00+04" / OK`, i))
		case i%500 == 7:
			reply = append(reply, "RING")
			wantURCs = append(wantURCs, "RING")
		default:
			line := fmt.Sprintf(`+CMGL: %d,"REC READ","+441234",,"24/05/01,12:00:00+04"`, i)
			reply = append(reply, line)
			wantLines = append(wantLines, line)
		}
	}
	reply = append(reply, "OK")

	for _, c := range []struct {
		perTurn int
		bounded bool
	}{{LinesPerTurn, true}, {1 << 30, false}} {
		name := fmt.Sprintf("%d lines a turn", c.perTurn)
		vc := loop.NewVirtualClock()
		l := loop.New(loop.WithClock(vc), loop.WithHogThreshold(10*time.Millisecond), loop.WithLogger(slog.New(slog.DiscardHandler)))
		d := newFake(l, func(cmd string) []step {
			if cmd != "AT+CMGL=4" {
				return nil
			}
			return every(0, reply...)
		})
		io := &costly{LineIO: d, vc: vc}
		var urcs []string
		m, err := New(io, OnEvent(func(u URC) { urcs = append(urcs, u.String()) }))
		if err != nil {
			t.Fatal(err)
		}
		m.perTurn = c.perTurn
		var rep Reply
		var early error
		var stats loop.Stats
		most := 0
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // safety bound
		err = l.Run(ctx, func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("modem", m.Run)
			done := false
			g.Go("neighbour", func(tk *loop.Task) error {
				// While it yields the virtual clock cannot jump to a timer:
				// a bounded number of turns (~150 are needed) keeps a Run
				// that breaks this test from hanging it.
				for last, turns := 0, 0; !done && turns < 100_000; turns++ {
					if err := tk.Yield(); err != nil {
						return err
					}
					most, last = max(most, io.reads-last), io.reads
				}
				return nil
			})
			if err := tk.Yield(); err != nil { // Run starts and waits for lines
				return err
			}
			for _, u := range wantURCs[:urcBurst] {
				d.say(u)
			}
			if err := tk.Yield(); err != nil { // Run takes its first lines
				return err
			}
			if c.bounded {
				// The burst takes ~77 ms to read: a command cannot be sent
				// within 1 ms, and says why.
				_, early = m.Command(tk, "AT", Timeout(time.Millisecond))
			}
			rep, err = m.Command(tk, "AT+CMGL=4")
			stats, done = tk.Loop().Stats(), true
			return errors.Join(err, g.Stop(tk))
		})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Join(rep.Lines, "\n") != strings.Join(wantLines, "\n") || rep.Final != "OK" {
			t.Errorf("%s: reply of %d lines, final %q; want the %d information lines in order and OK", name, len(rep.Lines), rep.Final, len(wantLines))
		}
		if strings.Join(urcs, "\n") != strings.Join(wantURCs, "\n") {
			t.Errorf("%s: %d URCs, want the %d sent, in order", name, len(urcs), len(wantURCs))
		}
		if fmt.Sprint(d.got) != "[AT+CMGL=4]" {
			t.Errorf("%s: the device received %q, want only AT+CMGL=4", name, d.got)
		}
		if c.bounded {
			var e *Error
			if !errors.As(early, &e) || !errors.Is(early, loop.ErrTimeout) || !strings.Contains(early.Error(), "read the lines received before the command") {
				t.Errorf("%s: a command during the burst: %v; want a timeout naming the unread lines", name, early)
			}
			if io.cut == 0 {
				t.Errorf("%s: no +CMT: pair was cut by a batch boundary", name)
			}
			if stats.Hogs != 0 || most != LinesPerTurn {
				t.Errorf("%s: %d hogs (longest %v in %q), at most %d lines between two turns of a neighbour; want no hog and %d",
					name, stats.Hogs, stats.MaxHog, stats.MaxHogTask, most, LinesPerTurn)
			}
		} else if stats.Hogs == 0 || stats.MaxHog < 600*time.Millisecond || most < len(reply) {
			t.Errorf("%s: %d hogs (longest %v), at most %d lines between two turns of a neighbour; want a hog of the whole reply",
				name, stats.Hogs, stats.MaxHog, most)
		}
	}
}

// Lines received before a command but not yet read when Run yields
// between batches are not taken for the command's reply: the command
// waits until Run has read them (as URCs, lines outside a command), and
// its echo is still recognised.
func TestCommandWaitsForUnreadLines(t *testing.T) {
	var urcs []string
	ok := func(string) []step { return []step{{0, "OK"}} }
	virtualModem(t, ok, []Option{OnEvent(func(u URC) { urcs = append(urcs, u.String()) })}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		var want []string
		for i := range 1000 {
			want = append(want, fmt.Sprintf("log %d", i))
			d.say(want[i])
		}
		if err := tk.Yield(); err != nil { // Run takes a batch and yields
			return err
		}
		if len(urcs) != LinesPerTurn {
			return fmt.Errorf("%d lines read after one turn, want %d", len(urcs), LinesPerTurn)
		}
		rep, err := m.Command(tk, "AT")
		if err != nil || len(rep.Lines) != 0 || rep.Final != "OK" {
			return fmt.Errorf("AT after a burst: %d lines %q…, final %q, %v; want OK alone", len(rep.Lines), rep.Lines[:min(3, len(rep.Lines))], rep.Final, err)
		}
		if strings.Join(urcs, "|") != strings.Join(want, "|") {
			return fmt.Errorf("%d lines outside the command, want the %d sent before it, in order", len(urcs), len(want))
		}
		return nil
	})
}

// A body is sent only once the lines after the prompt that were received
// are read: an ERROR there ends the command without sending the body.
func TestBodyWaitsForUnreadLines(t *testing.T) {
	script := func(cmd string) []step {
		s := []step{{0, "!prompt"}}
		for i := range 200 {
			s = append(s, step{0, fmt.Sprintf("RING %d", i)})
		}
		return append(s, step{0, "ERROR"})
	}
	virtualModem(t, script, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		_, err := m.Command(tk, `AT+CMGS="+441234"`, Body("Late"))
		if !errors.Is(err, ErrError) {
			return fmt.Errorf("a body command answered with a prompt, 200 URCs and ERROR: %v, want ErrError", err)
		}
		if want := `[AT+CMGS="+441234" ` + esc + `]`; fmt.Sprint(d.got) != want {
			return fmt.Errorf("the device received %q, want the command and Esc, no body", d.got)
		}
		return nil
	})
}

// endless is a LineIO that has a line ready b.N times, then closes.
type endless struct {
	line []byte
	left int
}

func (e *endless) ReadLineOrPrompt(*loop.Task, []byte) ([]byte, bool, error) {
	if e.left == 0 {
		return nil, false, primitives.ErrClosed
	}
	e.left--
	return e.line, false, nil
}

func (e *endless) Write(*loop.Task, []byte) error { return nil }

// BenchmarkRunLines is Run taking a stream of URCs that are always ready,
// per line: "unbounded" without the bound (before it), "bounded" with a
// yield every LinesPerTurn lines. Their ratio is the bound's cost.
func BenchmarkRunLines(b *testing.B) {
	for _, c := range []struct {
		name    string
		perTurn int
	}{{"unbounded", 1 << 62}, {"bounded", LinesPerTurn}} {
		b.Run(c.name, func(b *testing.B) {
			io := &endless{line: []byte(`+CMTI: "SM",3` + "\r\n"), left: b.N}
			m, err := New(io)
			if err != nil {
				b.Fatal(err)
			}
			m.perTurn = c.perTurn
			l := loop.New(loop.WithLogger(slog.New(slog.DiscardHandler)))
			b.ReportAllocs()
			b.ResetTimer()
			if err := l.Run(context.Background(), m.Run); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := m.Stats(); st.URCs != uint64(b.N) {
				b.Fatalf("%d URCs, want %d", st.URCs, b.N)
			}
		})
	}
}

// Over a real uart.Stream, whose reads take buffered lines without
// yielding, a 45 KB burst of URCs is still taken LinesPerTurn lines a
// turn, every line in order.
func TestBurstOverStream(t *testing.T) {
	peer := uarttest.NewPeer()
	var burst strings.Builder
	n := 0
	for ; burst.Len() < 45*1024; n++ {
		fmt.Fprintf(&burst, "+CMTI: \"SM\",%d\r\n", n)
	}
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()), uart.WithLineEnding(uart.AnyEOL))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	inOrder := true
	m, err := New(s, OnEvent(func(u URC) {
		inOrder = inOrder && u.String() == fmt.Sprintf(`+CMTI: "SM",%d`, got)
		got++
	}))
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // safety bound
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		g.Go("modem", m.Run)
		if _, err := s.WaitState(tk, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		peer.SayRaw([]byte(burst.String()))
		for last, turns := 0, 0; got < n && turns < 100_000; turns++ {
			if err := tk.Yield(); err != nil {
				return err
			}
			most, last = max(most, got-last), got
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != n || !inOrder || most != LinesPerTurn {
		t.Errorf("%d URCs of %d (in order: %v), at most %d between two turns; want all, in order, %d a turn", got, n, inOrder, most, LinesPerTurn)
	}
}
