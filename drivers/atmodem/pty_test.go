package atmodem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
)

// emulate answers AT commands on a pty master, as a modem would: each
// command (ended by CR) is echoed, then answered from replies; a command
// not in the table gets no answer. It sends hello first, unasked. It ends
// when the master is closed.
func emulate(master *os.File, hello string, replies map[string]string) {
	go func() {
		if hello != "" {
			if _, err := master.Write([]byte(hello)); err != nil {
				return
			}
		}
		var pending []byte
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\r')
				if i < 0 {
					break
				}
				cmd := string(pending[:i])
				pending = pending[i+1:]
				if _, err := master.Write([]byte(cmd + "\r" + replies[cmd])); err != nil {
					return
				}
			}
		}
	}()
}

// TestModemOverPty runs the whole stack on a real pseudo-terminal: stream
// reader and writer goroutines, AnyEOL framing of echo and replies, final
// codes, an interleaved URC, the seed's quiet-ended reply, a timeout.
func TestModemOverPty(t *testing.T) {
	master, path := drivertest.OpenPty(t)
	defer master.Close()
	l := loop.New()
	s, err := uart.New(path, uart.WithLineEnding(uart.AnyEOL), uart.WithReadTimeout(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// Real time: quiet and overall limits are generous safety bounds,
	// except where a test is about them; nothing asserts a duration.
	m, err := atmodem.New(s, atmodem.WithQuiet(10*time.Second), atmodem.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	replies := map[string]string{
		"AT+CSQ":  "\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
		"AT+CPIN": "\r\n+CME ERROR: 10\r\n",
		"AT+CMGS": "\r\n+CMTI: \"SM\",3\r\n\r\n+CMGS: 5\r\n\r\nOK\r\n",
		"AT+SEED": "Line 1\r\nLine 2\r\nLine 3\r\nGoodbye\r\n",
	}
	var urcs []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("uart", s.Run)
		g.Go("modem", m.Run)
		defer g.Cancel()
		if _, err := s.WaitState(tk, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		emulate(master, "\r\nRING\r\n", replies) // only now: the slave is open
		if u, err := m.Events().Get(tk); err != nil || u.String() != "RING" {
			return fmt.Errorf("first URC %q, %v", u, err)
		}
		rep, err := m.Command(tk, "AT+CSQ")
		if err != nil || strings.Join(rep.Lines, "|") != "+CSQ: 21,99" || rep.Final != "OK" {
			return fmt.Errorf("AT+CSQ: %+v, %v", rep, err)
		}
		_, err = m.Command(tk, "AT+CPIN")
		var e *atmodem.Error
		if !errors.As(err, &e) || !errors.Is(err, atmodem.ErrCME) || e.Code != 10 {
			return fmt.Errorf("AT+CPIN: %v, want +CME ERROR 10", err)
		}
		rep, err = m.Command(tk, "AT+CMGS")
		if err != nil || strings.Join(rep.Lines, "|") != "+CMGS: 5" {
			return fmt.Errorf("AT+CMGS: %+v, %v", rep, err)
		}
		if u, err := m.Events().Get(tk); err != nil || u.String() != `+CMTI: "SM",3` {
			return fmt.Errorf("interleaved URC %q, %v", u, err)
		}
		// The seed's device: no result code, the reply ends by silence.
		rep, err = m.Command(tk, "AT+SEED", atmodem.Quiet(200*time.Millisecond))
		if err != nil || strings.Join(rep.Lines, "|") != "Line 1|Line 2|Line 3|Goodbye" || rep.Final != "" {
			return fmt.Errorf("AT+SEED: %+v, %v", rep, err)
		}
		// A command the device ignores: the overall timeout.
		_, err = m.Command(tk, "AT+HANG", atmodem.Timeout(100*time.Millisecond))
		if !errors.Is(err, loop.ErrTimeout) || !strings.Contains(err.Error(), "AT+HANG") {
			return fmt.Errorf("AT+HANG: %v, want a timeout naming the command", err)
		}
		for !m.Events().Empty() {
			u, _ := m.Events().TryGet()
			urcs = append(urcs, u.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The echo of AT+HANG came back after the command had given up.
	if strings.Join(urcs, "|") != "AT+HANG" && len(urcs) != 0 {
		t.Errorf("stray URCs %q", urcs)
	}
	if st := s.Stats(); st.Dropped+st.Discarded != 0 {
		t.Errorf("stream lost bytes: %+v", st)
	}
}
