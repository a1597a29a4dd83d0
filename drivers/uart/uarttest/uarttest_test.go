package uarttest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs body with a stream opened on peer, on a virtual clock, and
// returns the virtual time each line body read arrived.
func run(t *testing.T, peer *uarttest.Peer, body func(tk *loop.Task, s *uart.Stream, since func() time.Duration) error) {
	t.Helper()
	s, err := uart.New("/dev/sim", uart.WithOpener(peer.Opener()), uart.WithLineEnding(uart.AnyEOL),
		uart.WithBackoff(uart.Backoff{Min: time.Second, Max: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		return errors.Join(body(tk, s, vc.Elapsed), g.Stop(tk))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readLine(tk *loop.Task, s *uart.Stream, since func() time.Duration) string {
	line, err := s.ReadLine(tk)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s@%v", line, since())
}

// Lines said before the stream opens arrive once it has; an answer comes
// at its exact virtual time; with Echo the command comes back first.
func TestAnswersAtTheirTimes(t *testing.T) {
	peer := uarttest.NewPeer()
	peer.Echo = true
	peer.Say("READY")
	peer.On("PING", uarttest.After(300*time.Millisecond, "PONG"), uarttest.After(100*time.Millisecond, "DONE"))
	var got []string
	run(t, peer, func(tk *loop.Task, s *uart.Stream, since func() time.Duration) error {
		got = append(got, readLine(tk, s, since))
		if err := s.Write(tk, []byte("PING\r")); err != nil {
			return err
		}
		for range 3 {
			got = append(got, readLine(tk, s, since))
		}
		return nil
	})
	if want := "[READY@0s PING@0s PONG@300ms DONE@400ms]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if r := peer.Received(); fmt.Sprint(r) != "[PING]" {
		t.Errorf("peer received %q", r)
	}
}

// A prompt holds the rest of the replies until the body, ended by Ctrl-Z,
// has come; Esc cancels a body.
func TestPromptAndBody(t *testing.T) {
	peer := uarttest.NewPeer()
	peer.OnPrefix("AT+CMGS=", uarttest.Prompt("\r\n> "), uarttest.Line("+CMGS: 7"), uarttest.Line("OK"))
	var got []string
	run(t, peer, func(tk *loop.Task, s *uart.Stream, since func() time.Duration) error {
		if _, err := s.WaitState(tk, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		if err := s.Write(tk, []byte("AT+CMGS=\"+441234\"\r")); err != nil {
			return err
		}
		for range 2 {
			line, prompted, err := s.ReadLineOrPrompt(tk, []byte("> "))
			got = append(got, fmt.Sprintf("%q %v %v", line, prompted, err))
		}
		if err := s.Write(tk, []byte("Meet at 6\x1a")); err != nil {
			return err
		}
		got = append(got, readLine(tk, s, since), readLine(tk, s, since))
		if err := s.Write(tk, []byte("AT+CMGS=\"+1\"\rnever\x1b")); err != nil {
			return err
		}
		return tk.Sleep(time.Second)
	})
	if want := `["" false <nil> "" true <nil> +CMGS: 7@0s OK@0s]`; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if b := peer.Bodies(); fmt.Sprint(b) != "[Meet at 6]" {
		t.Errorf("bodies %q, want the first only", b)
	}
}

// Hangup ends the connection as an unplugged device does; the stream
// reopens it after its back-off. An absent peer fails to open.
func TestHangupAndAbsence(t *testing.T) {
	peer := uarttest.NewPeer()
	var states []string
	run(t, peer, func(tk *loop.Task, s *uart.Stream, since func() time.Duration) error {
		connected := func(st uart.State) bool { return st.Status == uart.Connected }
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		peer.SetPresent(false)
		st, err := s.WaitState(tk, func(st uart.State) bool { return st.Status == uart.Disconnected })
		if err != nil {
			return err
		}
		states = append(states, fmt.Sprintf("%v@%v %v", st.Status, since(), errors.Is(st.Err, uart.ErrVanished)))
		if err := tk.Sleep(1500 * time.Millisecond); err != nil { // one failed reopen at 1 s
			return err
		}
		states = append(states, fmt.Sprintf("%v %v", s.State().Status, errors.Is(s.State().Err, uarttest.ErrAbsent)))
		peer.SetPresent(true)
		if _, err := s.WaitState(tk, connected); err != nil {
			return err
		}
		states = append(states, fmt.Sprintf("connected@%v", since()))
		return nil
	})
	if want := "[disconnected@0s true disconnected true connected@2s]"; fmt.Sprint(states) != want || peer.Opens() != 2 {
		t.Errorf("states %v, opens %d; want %s, 2", states, peer.Opens(), want)
	}
}
