package uart_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

func virtual(t *testing.T, main loop.TaskFunc) {
	t.Helper()
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	if err := l.Run(context.Background(), main); err != nil {
		t.Fatal(err)
	}
}

func connected(st uart.State) bool { return st.Status == uart.Connected }

// Every read is a checkpoint: a cancelled reader gets its cancellation
// even with lines waiting, and takes nothing; the next reader gets them.
// A Write of a cancelled task queues nothing.
func TestReadsAndWritesAreCheckpoints(t *testing.T) {
	peer := uarttest.NewPeer()
	peer.Say("one", "two")
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	virtual(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		if err := tk.Yield(); err != nil { // the peer's lines arrive
			return err
		}
		cancelled := tk.Loop().Go("cancelled", func(tk *loop.Task) error {
			tk.Cancel()
			_, err1 := s.ReadLine(tk)
			_, err2 := s.ReadExactly(tk, 1)
			_, err3 := s.Read(tk, make([]byte, 1))
			_, _, err4 := s.ReadLineOrPrompt(tk, []byte("> "))
			err5 := s.Write(tk, []byte("x\n"))
			_, err6 := s.WaitState(tk, connected)
			return errors.Join(err1, err2, err3, err4, err5, err6)
		})
		err := cancelled.Wait(tk)
		got = append(got, fmt.Sprint(strings.Count(fmt.Sprint(err), "cancelled")))
		for range 2 {
			line, err := s.ReadLine(tk)
			got = append(got, string(line), fmt.Sprint(err))
		}
		return g.Stop(tk)
	})
	if want := "[6 one <nil> two <nil>]"; fmt.Sprint(got) != want || len(peer.Received()) != 0 {
		t.Errorf("got %v, peer received %q; want %s, nothing", got, peer.Received(), want)
	}
	if st := s.Stats(); st.Accepted != 0 || st.Delivered != 10 {
		t.Errorf("stats %+v: want nothing accepted, 10 bytes delivered", st)
	}
}

// Once Run has ended, reads fail with ErrClosed, which matches
// primitives.ErrClosed; Run refuses to run twice at once and runs again
// after it ended, with what was received and not read still there.
func TestRunAgain(t *testing.T) {
	peer := uarttest.NewPeer()
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	virtual(t, func(tk *loop.Task) error {
		for round := range 2 {
			g := loop.NewGroup(tk)
			g.Go("uart", s.Run)
			if round == 0 {
				g.Go("again", func(tk *loop.Task) error {
					got = append(got, fmt.Sprint(errors.Is(s.Run(tk), uart.ErrRunning)))
					return nil
				})
			}
			if _, err := s.WaitState(tk, connected); err != nil {
				return err
			}
			peer.Say(fmt.Sprintf("round %d", round))
			if err := g.Stop(tk); err != nil {
				return err
			}
			line, err := s.ReadLine(tk)
			got = append(got, string(line), fmt.Sprint(err))
			_, err = s.ReadLine(tk)
			got = append(got, fmt.Sprint(errors.Is(err, uart.ErrClosed) && errors.Is(err, primitives.ErrClosed)))
		}
		return nil
	})
	if want := "[true round 0 <nil> true round 1 <nil> true]"; fmt.Sprint(got) != want || peer.Opens() != 2 {
		t.Errorf("got %v, opens %d; want %s, 2", got, peer.Opens(), want)
	}
}

// A device that floods a full receive buffer loses the newest bytes,
// counted and reported in order, as through the reader goroutine.
func TestLoopPortOverflow(t *testing.T) {
	peer := uarttest.NewPeer()
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()), uart.WithMaxLine(8), uart.WithRxBuffer(16))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	virtual(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		peer.SayRaw([]byte("0123456\n0123456\nlost\nlost\n"))
		for i := range 4 {
			if i == 3 {
				peer.Say("", "next") // room again; the first line ending ends the broken line
			}
			line, err := s.ReadLine(tk)
			got = append(got, fmt.Sprintf("%q %v", line, err))
		}
		return g.Stop(tk)
	})
	want := `["0123456" <nil> "0123456" <nil> "" uart /dev/sim: ReadLine: uart: receive buffer overflow: 10 bytes dropped "next" <nil>]`
	if fmt.Sprint(got) != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
	st := s.Stats()
	if st.Dropped != 10 || st.Received != st.Delivered+st.Dropped+st.Discarded+uint64(st.Buffered) {
		t.Errorf("stats %+v", st)
	}
}

// The bytes a LoopPort takes are written in order, and Drain returns once
// they are with it.
func TestLoopPortWrite(t *testing.T) {
	peer := uarttest.NewPeer()
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()), uart.WithTxBuffer(4))
	if err != nil {
		t.Fatal(err)
	}
	virtual(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		for _, l := range []string{"first line\n", "second\n"} {
			if err := s.Write(tk, []byte(l)); err != nil {
				return err
			}
		}
		if err := s.Drain(tk); err != nil {
			return err
		}
		return errors.Join(tk.Sleep(time.Millisecond), g.Stop(tk))
	})
	if r := peer.Received(); fmt.Sprint(r) != "[first line second]" || s.Stats().Written != 18 {
		t.Errorf("peer received %q, stats %+v", r, s.Stats())
	}
}

// Inside a WaitFor scope that has expired, a read with a line waiting
// fails with the timeout and takes nothing, like every await.
func TestReadInExpiredScope(t *testing.T) {
	peer := uarttest.NewPeer()
	peer.Say("waiting")
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()))
	if err != nil {
		t.Fatal(err)
	}
	var inScope error
	var after string
	virtual(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		scope := loop.WaitFor(tk, time.Millisecond, func(tk *loop.Task) error {
			if err := tk.Sleep(time.Second); !errors.Is(err, loop.ErrTimeout) { // the scope expires; the line arrives meanwhile
				return fmt.Errorf("sleep in the scope: %v, want ErrTimeout", err)
			}
			_, inScope = s.ReadLine(tk)
			return inScope
		})
		if !errors.Is(scope, loop.ErrTimeout) {
			return fmt.Errorf("the scope: %v, want ErrTimeout", scope)
		}
		line, err := s.ReadLine(tk)
		after = fmt.Sprintf("%s %v", line, err)
		return g.Stop(tk)
	})
	if !errors.Is(inScope, loop.ErrTimeout) || after != "waiting <nil>" {
		t.Errorf("read in the expired scope: %v; after it: %s; want ErrTimeout, the line", inScope, after)
	}
}

// Records cuts a buffered burst RecordsPerTurn records at a time: a task
// beside it, yielding in a loop, sees at most that many records arrive
// between two of its turns — every record in order, a 45 KB burst into a
// queue with room for all of it.
func TestRecordsBatchesABurst(t *testing.T) {
	peer := uarttest.NewPeer()
	var burst strings.Builder
	n := 0
	for ; burst.Len() < 45*1024; n++ {
		fmt.Fprintf(&burst, "line %d\n", n)
	}
	peer.SayRaw([]byte(burst.String()))
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()))
	if err != nil {
		t.Fatal(err)
	}
	q := primitives.NewQueue[[]byte](n)
	most, inOrder := 0, true
	virtual(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		g.Go("records", func(tk *loop.Task) error { return s.Records(tk, uart.Lines(), q) })
		for taken := 0; taken < n; {
			if err := tk.Yield(); err != nil {
				return err
			}
			batch := 0
			for !q.Empty() {
				rec, err := q.Get(tk)
				if err != nil {
					return err
				}
				inOrder = inOrder && string(rec) == fmt.Sprintf("line %d", taken)
				taken++
				batch++
			}
			most = max(most, batch)
		}
		return g.Stop(tk)
	})
	if most != uart.RecordsPerTurn || !inOrder {
		t.Errorf("at most %d records between two turns (in order: %v), want %d", most, inOrder, uart.RecordsPerTurn)
	}
}
