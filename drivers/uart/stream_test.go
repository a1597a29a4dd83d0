package uart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// fast settings for pty tests: a short read timeout keeps stopping quick,
// a short back-off keeps reconnecting quick. Neither is asserted.
func ptyOpts(extra ...Option) []Option {
	return append([]Option{
		WithReadTimeout(5 * time.Millisecond),
		WithBackoff(Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond, Jitter: 0.5}),
	}, extra...)
}

// masterWrite writes to the pty master off the loop.
func masterWrite(tk *loop.Task, master *os.File, p []byte) error {
	_, err := loop.Offload(tk, func(context.Context) (int, error) { return master.Write(p) })
	return err
}

func TestPtyReadLineAcrossSplitWrites(t *testing.T) {
	master, path := drivertest.OpenPty(t)
	l := loop.New()
	s, err := New(path, ptyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	pieces := []string{"Li", "ne 1\r", "\n", "Line 2\r\nLi", "ne 3\r\n", "\n"}
	want := []string{"Line 1", "Line 2", "Line 3", ""}
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		for _, p := range pieces {
			if err := masterWrite(tk, master, []byte(p)); err != nil {
				return err
			}
		}
		for _, w := range want {
			line, err := s.ReadLine(tk)
			if err != nil {
				return fmt.Errorf("ReadLine: %v", err)
			}
			if string(line) != w {
				return fmt.Errorf("ReadLine = %q, want %q", line, w)
			}
		}
		return nil
	}))
	st := s.Stats()
	if st.Received != 25 || st.Delivered != 25 || st.Dropped != 0 || st.Discarded != 0 {
		t.Errorf("stats %+v, want 25 received and delivered, nothing lost", st)
	}
}

// TestPtyLineEndings runs each line ending over a real pty; the
// byte-by-byte cases in rx_test.go cover the split points.
func TestPtyLineEndings(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		in   string
		want []string
	}{
		{"LF", WithLineEnding(LF), "a\r\nb\nc\r\r\n", []string{"a", "b", "c\r"}},
		{"CR", WithLineEnding(CR), "a\rb\n\r", []string{"a", "b\n"}},
		{"CRLF", WithLineEnding(CRLF), "a\rb\nc\r\nd\r\n", []string{"a\rb\nc", "d"}},
		{"AnyEOL", WithLineEnding(AnyEOL), "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\nx\ny\r", []string{"AT+CSQ", "", "+CSQ: 20,99", "", "OK", "x", "y"}},
		{"NUL", WithDelimiter(0), "a\r\n\x00b\x00", []string{"a\r\n", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, path := drivertest.OpenPty(t)
			l := loop.New()
			s, err := New(path, ptyOpts(tc.opt)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			runLoop(t, l, withStream(s, func(tk *loop.Task) error {
				if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
					return err
				}
				if err := masterWrite(tk, master, []byte(tc.in)); err != nil {
					return err
				}
				for range tc.want {
					line, err := s.ReadLine(tk)
					if err != nil {
						return err
					}
					got = append(got, string(line))
				}
				return nil
			}))
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPtyWriteDrainAndLargeWrite(t *testing.T) {
	master, path := drivertest.OpenPty(t)
	var sink *masterSink
	l := loop.New()
	s, err := New(path, ptyOpts(WithTxBuffer(1024))...)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	var want []byte
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		// Only now: a master read while no slave is open fails with EIO.
		sink = sinkMaster(master)
		for i := range 10 {
			cmd := fmt.Appendf(nil, "AT+N=%d\r\n", i)
			want = append(want, cmd...)
			if err := s.Write(tk, cmd); err != nil {
				return err
			}
		}
		if err := s.Drain(tk); err != nil {
			return err
		}
		if st := s.Stats(); st.Queued != 0 || st.Written != uint64(len(want)) {
			return fmt.Errorf("after Drain: %+v, want everything written", st)
		}
		// Bigger than the transmit buffer: Write waits for room piecewise.
		want = append(want, big...)
		if err := s.Write(tk, big); err != nil {
			return err
		}
		if err := s.Drain(tk); err != nil {
			return err
		}
		got, err := loop.Offload(tk, func(context.Context) ([]byte, error) { return sink.waitFor(len(want)) })
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("master got %d bytes, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
		}
		return nil
	}))
	if st := s.Stats(); st.Accepted != uint64(len(want)) || st.Written != st.Accepted || st.TxDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestWriteWhileNotConnected(t *testing.T) {
	l := loop.New()
	dir := t.TempDir()
	s, err := New(filepath.Join(dir, "absent"), ptyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, func(tk *loop.Task) error {
		if err := s.Write(tk, []byte("AT\r")); !errors.Is(err, ErrNotConnected) {
			return fmt.Errorf("Write before Run: %v, want ErrNotConnected", err)
		}
		if err := s.Drain(tk); !errors.Is(err, ErrNotConnected) {
			return fmt.Errorf("Drain before Run: %v, want ErrNotConnected", err)
		}
		return withStream(s, func(tk *loop.Task) error {
			st, err := s.WaitState(tk, func(st State) bool { return st.Status == Disconnected && st.Attempt >= 3 })
			if err != nil {
				return err
			}
			if !errors.Is(st.Err, fs.ErrNotExist) || !strings.Contains(st.Err.Error(), "absent") {
				return fmt.Errorf("state error %v, want not-exist naming the path", st.Err)
			}
			if err := s.Write(tk, []byte("AT\r")); !errors.Is(err, ErrNotConnected) {
				return fmt.Errorf("Write while disconnected: %v, want ErrNotConnected", err)
			}
			return nil
		})(tk)
	})
	if st := s.State(); st.Status != Closed {
		t.Errorf("state after Run: %v, want closed", st)
	}
	if st := s.Stats(); st.OpenFailures < 3 || st.Connects != 0 {
		t.Errorf("stats %+v, want ≥ 3 open failures", st)
	}
}

// TestPtyHangupMidLineAndReconnect: the device sends a line and half of
// the next, then vanishes (the pty master closes, as a USB adapter pulled
// out). The stream reports the cut line, publishes Disconnected, keeps
// reopening the path, and resumes when the path names a device again —
// here a symlink repointed to a new pty, as udev does for
// /dev/ttyUSB-modem.
func TestPtyHangupMidLineAndReconnect(t *testing.T) {
	master1, path1 := drivertest.OpenPty(t)
	link := filepath.Join(t.TempDir(), "ttyUSB-modem")
	if err := os.Symlink(path1, link); err != nil {
		t.Fatal(err)
	}
	l := loop.New()
	s, err := New(link, ptyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	var changes []Status
	runLoop(t, l, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("watch", func(tk *loop.Task) error {
			// Follows the state the way a bridge publishing it would.
			last := s.State().Status
			for {
				st, err := s.WaitState(tk, func(st State) bool { return st.Status != last })
				if err != nil {
					return nil
				}
				last = st.Status
				changes = append(changes, last)
			}
		})
		err := withStream(s, func(tk *loop.Task) error {
			if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
				return err
			}
			if err := masterWrite(tk, master1, []byte("Line 1\r\nLi")); err != nil {
				return err
			}
			line, err := s.ReadLine(tk)
			if err != nil || string(line) != "Line 1" {
				return fmt.Errorf("ReadLine = %q, %v; want Line 1", line, err)
			}
			// The half line must have reached the buffer before the hang-up,
			// or the kernel discards it (see the spike).
			if err := waitRx(tk, s, func() bool { return s.rx.buffered() == 2 }); err != nil {
				return err
			}
			// The device goes: udev removes its link, the kernel hangs the tty
			// up. The link goes first here so that the reconnect attempts
			// cannot open a reused /dev/pts/N of another test running in
			// parallel (root ignores TIOCEXCL): bare kernel names are
			// reused, which is why a stable name is the one to configure.
			if err := os.Remove(link); err != nil {
				return err
			}
			if err := master1.Close(); err != nil {
				return err
			}
			_, err = s.ReadLine(tk)
			var le *LossError
			if !errors.As(err, &le) || !errors.Is(err, ErrCut) || !errors.Is(err, ErrVanished) || le.Discarded != 2 {
				return fmt.Errorf("ReadLine after hang-up: %v, want a cut line of 2 bytes, device vanished", err)
			}
			// Attempt 1 is the hang-up itself, then failed reopens.
			st, err := s.WaitState(tk, func(st State) bool { return st.Status == Disconnected && st.Attempt >= 3 })
			if err != nil {
				return err
			}
			if !errors.Is(st.Err, fs.ErrNotExist) {
				return fmt.Errorf("state while the device is gone: %v, want not-exist", st)
			}
			if err := s.Write(tk, []byte("AT\r")); !errors.Is(err, ErrNotConnected) {
				return fmt.Errorf("Write while gone: %v", err)
			}

			// The device comes back under another pts number.
			master2, path2 := drivertest.OpenPty(t)
			tmp := link + ".new"
			if err := os.Symlink(path2, tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, link); err != nil {
				return err
			}
			if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
				return err
			}
			if err := masterWrite(tk, master2, []byte("Line 2\r\n")); err != nil {
				return err
			}
			line, err = s.ReadLine(tk)
			if err != nil || string(line) != "Line 2" {
				return fmt.Errorf("ReadLine after reconnect = %q, %v; want Line 2", line, err)
			}
			return nil
		})(tk)
		g.Cancel()
		return errors.Join(err, g.Wait(tk))
	})
	st := s.Stats()
	if st.Connects != 2 || st.Disconnects != 1 || st.OpenFailures < 2 || st.Discarded != 2 {
		t.Errorf("stats %+v, want 2 connects, 1 disconnect, ≥ 2 failed opens, 2 bytes discarded", st)
	}
	want := []Status{Connected, Disconnected, Connected, Closed}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("statuses seen %v, want %v", changes, want)
	}
	if ev := s.Latest(); !ev.IsSet() || ev.Value().Status != Closed {
		t.Errorf("published state %v (set %v), want closed", ev.Value(), ev.IsSet())
	}
}

// TestPtyStopClosesPort: cancelling Run closes the port, which the pty
// master sees as the slave going away (EIO).
func TestPtyStopClosesPort(t *testing.T) {
	master, path := drivertest.OpenPty(t)
	l := loop.New()
	s, err := New(path, ptyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		_, err := s.WaitState(tk, isStatus(Connected))
		return err
	}))
	if err := master.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := master.Read(make([]byte, 1)); !errors.Is(err, syscall.EIO) {
		t.Errorf("master Read after the stream stopped: %v, want EIO (slave closed)", err)
	}
	if st := s.State(); st.Status != Closed {
		t.Errorf("state %v, want closed", st)
	}
}

// randomBytes returns n bytes drawn from rng.
func randomBytes(rng *rand.Rand, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return data
}

// TestPty1MBExact: a megabyte of random bytes, written in random pieces,
// arrives complete and in order when the buffer can hold it.
func TestPty1MBExact(t *testing.T) {
	const total = 1 << 20
	master, path := drivertest.OpenPty(t)
	rng := rand.New(rand.NewPCG(1, 2))
	data := randomBytes(rng, total)
	data[total-1] = '\n'
	l := loop.New()
	s, err := New(path, ptyOpts(WithDelimiter('\n'), WithMaxLine(total), WithRxBuffer(total+2))...)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		writer := loop.Spawn(tk.Loop(), "device", func(tk *loop.Task) (int, error) {
			return loop.Offload(tk, func(context.Context) (int, error) {
				for off := 0; off < total; {
					n := min(1+rng.IntN(9000), total-off)
					if _, err := master.Write(data[off : off+n]); err != nil {
						return off, err
					}
					off += n
				}
				return total, nil
			})
		})
		for got.Len() < total {
			line, err := s.ReadLine(tk)
			if err != nil {
				return err
			}
			got.Write(line)
			got.WriteByte('\n')
		}
		_, err := writer.Wait(tk)
		return err
	}))
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("received %d bytes, differing from those sent at %d", got.Len(), firstDiff(got.Bytes(), data))
	}
	if st := s.Stats(); st.Received != total || st.Delivered != total || st.Dropped+st.Discarded != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestPty1MBOverflowAccounting: a megabyte arrives while nobody reads.
// The buffer keeps its first RxBuffer bytes; every other byte is dropped,
// counted, and reported to the reader, and the counts add up exactly.
func TestPty1MBOverflowAccounting(t *testing.T) {
	const total, rxBuf = 1 << 20, 4096
	master, path := drivertest.OpenPty(t)
	rng := rand.New(rand.NewPCG(3, 4))
	data := randomBytes(rng, total)
	l := loop.New()
	s, err := New(path, ptyOpts(WithLineEnding(AnyEOL), WithMaxLine(100), WithRxBuffer(rxBuf))...)
	if err != nil {
		t.Fatal(err)
	}
	var reported uint64
	var lines, errs int
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		if err := masterWrite(tk, master, data); err != nil {
			return err
		}
		if err := waitRx(tk, s, func() bool { return s.stats.Received == total }); err != nil {
			return err
		}
		if st := s.Stats(); st.Dropped != total-rxBuf || st.Buffered != rxBuf {
			return fmt.Errorf("before reading: %+v, want exactly %d buffered and the rest dropped", st, rxBuf)
		}
		for {
			line, err, ok := s.takeLine()
			if !ok {
				return nil
			}
			var le *LossError
			switch {
			case err == nil:
				if len(line) > 100 {
					return fmt.Errorf("line of %d bytes, max 100", len(line))
				}
				lines++
			case errors.As(err, &le):
				reported += le.Dropped
				errs++
			default:
				return err
			}
		}
	}))
	st := s.Stats()
	if st.Received != total || st.Delivered+st.Dropped+st.Discarded+uint64(st.Buffered) != total {
		t.Errorf("stats do not add up: %+v", st)
	}
	if reported != st.Dropped || st.Overflows == 0 {
		t.Errorf("readers were told of %d dropped bytes, stats count %d (%d overflows)", reported, st.Dropped, st.Overflows)
	}
	t.Logf("%d lines, %d loss reports, %+v", lines, errs, st)
}

// TestPty1MBConcurrentReader: random bytes with short lines and a small
// buffer while a reader keeps up as it can: whatever is lost, nothing
// crashes and the counts add up.
func TestPty1MBConcurrentReader(t *testing.T) {
	const total = 1 << 20
	master, path := drivertest.OpenPty(t)
	rng := rand.New(rand.NewPCG(5, 6))
	data := randomBytes(rng, total)
	l := loop.New()
	s, err := New(path, ptyOpts(WithLineEnding(AnyEOL), WithMaxLine(64), WithRxBuffer(1024))...)
	if err != nil {
		t.Fatal(err)
	}
	var reported uint64
	runLoop(t, l, withStream(s, func(tk *loop.Task) error {
		if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
			return err
		}
		writer := loop.Spawn(tk.Loop(), "device", func(tk *loop.Task) (int, error) {
			return loop.Offload(tk, func(context.Context) (int, error) { return master.Write(data) })
		})
		for {
			line, err, ok := s.takeLine()
			var le *LossError
			switch {
			case !ok:
				if s.stats.Received == total {
					_, err := writer.Wait(tk)
					return err
				}
				if err := s.rxq.Wait(tk); err != nil {
					return err
				}
			case err == nil:
				if len(line) > 64 {
					return fmt.Errorf("line of %d bytes, max 64", len(line))
				}
			case errors.As(err, &le):
				reported += le.Dropped
			default:
				return err
			}
		}
	}))
	st := s.Stats()
	if st.Received != total || st.Delivered+st.Dropped+st.Discarded+uint64(st.Buffered) != total {
		t.Errorf("stats do not add up: %+v", st)
	}
	if reported != st.Dropped {
		t.Errorf("reported %d dropped bytes, stats count %d", reported, st.Dropped)
	}
	t.Logf("%+v", st)
}

func TestPtyRecords(t *testing.T) {
	master, path := drivertest.OpenPty(t)
	l := loop.New()
	s, err := New(path, ptyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	q := primitives.NewQueue[[]byte](2)
	var got []string
	runLoop(t, l, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("records", func(tk *loop.Task) error { return s.Records(tk, Lines(), q) })
		err := withStream(s, func(tk *loop.Task) error {
			if _, err := s.WaitState(tk, isStatus(Connected)); err != nil {
				return err
			}
			if err := masterWrite(tk, master, []byte("one\ntwo\nthree\nfour\n")); err != nil {
				return err
			}
			for range 4 {
				rec, err := q.Get(tk)
				if err != nil {
					return err
				}
				got = append(got, string(rec))
			}
			return nil
		})(tk)
		if err != nil {
			return err
		}
		// The stream has closed: Records closes the queue and ends.
		if _, err := q.Get(tk); !errors.Is(err, primitives.ErrClosed) {
			return fmt.Errorf("Get after the stream closed: %v, want a closed queue", err)
		}
		return g.Wait(tk)
	})
	if strings.Join(got, ",") != "one,two,three,four" {
		t.Errorf("records %q", got)
	}
}
