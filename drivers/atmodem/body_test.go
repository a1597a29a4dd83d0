package atmodem

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// smsDevice prompts for a body after AT+CMGS=, and answers the body (the
// line the fake sees after the prompt) with the message reference.
func smsDevice(cmd string) []step {
	switch {
	case strings.HasPrefix(cmd, "AT+CMGS="):
		return []step{{10 * time.Millisecond, ""}, {0, "!prompt"}}
	case strings.HasSuffix(cmd, "\x1a"):
		return every(100*time.Millisecond, "", "+CMGS: 12", "", "OK")
	case cmd == "AT+CMGS=\"bad\"":
		return every(10*time.Millisecond, "+CMS ERROR: 304")
	}
	return nil
}

// A command with a body waits for the prompt, sends the body and Ctrl-Z,
// and collects the reply; the device's echo of the body is not a line of
// it.
func TestBodyAfterPrompt(t *testing.T) {
	virtualModem(t, smsDevice, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		rep, err := m.Command(tk, `AT+CMGS="+441234"`, Body("Running late"))
		if err != nil || fmt.Sprint(rep.Lines) != "[+CMGS: 12]" || rep.Final != "OK" {
			return fmt.Errorf("reply %+v, %v", rep, err)
		}
		if want := "[AT+CMGS=\"+441234\" Running late\x1a]"; fmt.Sprint(d.got) != want {
			return fmt.Errorf("written %q, want %q", d.got, want)
		}
		return nil
	})
}

// A device that does not prompt: ErrNoPrompt after the quiet time, and Esc
// is sent so that a late prompt does not take the next command as a body.
// One that refuses the command: its error, and Esc too. A body holding
// Ctrl-Z is refused before anything is sent.
func TestBodyWithoutPrompt(t *testing.T) {
	silent := func(cmd string) []step {
		if cmd == `AT+CMGS="bad"` {
			return every(10*time.Millisecond, "+CMS ERROR: 304")
		}
		return nil
	}
	virtualModem(t, silent, []Option{WithQuiet(time.Second)}, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		_, err := m.Command(tk, `AT+CMGS="+441234"`, Body("x"))
		if !errors.Is(err, ErrNoPrompt) {
			return fmt.Errorf("no prompt: %v, want ErrNoPrompt", err)
		}
		_, err = m.Command(tk, `AT+CMGS="bad"`, Body("x"))
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrCMS) || e.Code != 304 {
			return fmt.Errorf("refused: %v, want +CMS ERROR 304", err)
		}
		if _, err := m.Command(tk, `AT+CMGS="+1"`, Body("a\x1ab")); !errors.Is(err, ErrBadInput) {
			return fmt.Errorf("Ctrl-Z in the body: %v, want ErrBadInput", err)
		}
		if want := "[AT+CMGS=\"+441234\" \x1b AT+CMGS=\"bad\" \x1b]"; fmt.Sprint(d.got) != want {
			return fmt.Errorf("written %q, want %q", d.got, want)
		}
		return nil
	})
}

// A command whose task is cancelled while it waits for the prompt sends
// Esc even so; a prompt nobody waits for is counted and ignored.
func TestBodyCancelledAndStrayPrompt(t *testing.T) {
	virtualModem(t, func(string) []step { return nil }, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		sender := tk.Loop().Go("sender", func(tk *loop.Task) error {
			_, err := m.Command(tk, `AT+CMGS="+441234"`, Body("x"))
			return err
		})
		tk.Loop().CallLater(time.Second, sender.Cancel)
		if err := sender.Wait(tk); !errors.Is(err, loop.ErrCancelled) {
			return fmt.Errorf("cancelled sender: %v", err)
		}
		d.say("!prompt")
		if err := tk.Sleep(time.Millisecond); err != nil {
			return err
		}
		if want := "[AT+CMGS=\"+441234\" \x1b]"; fmt.Sprint(d.got) != want || m.Stats().StrayPrompts != 1 {
			return fmt.Errorf("written %q, stats %+v; want %q, 1 stray prompt", d.got, m.Stats(), want)
		}
		return nil
	})
}

// Command is a checkpoint: a cancelled task sends nothing. A reply that
// is complete when the task's cancellation comes wins: Command returns it.
func TestCommandCheckpointAndWakeWins(t *testing.T) {
	virtualModem(t, func(string) []step { return nil }, nil, func(tk *loop.Task, m *Modem, d *fakeDevice) error {
		cancelled := tk.Loop().Go("cancelled", func(tk *loop.Task) error {
			tk.Cancel()
			_, err := m.Command(tk, "AT")
			return err
		})
		if err := cancelled.Wait(tk); !errors.Is(err, loop.ErrCancelled) || len(d.got) != 0 {
			return fmt.Errorf("cancelled task: %v, written %q; want ErrCancelled, nothing", err, d.got)
		}
		var rep Reply
		var err error
		asker := tk.Loop().Go("asker", func(tk *loop.Task) error {
			rep, err = m.Command(tk, "AT+CSQ")
			return nil
		})
		// The reply's last line and the cancellation in the same instant:
		// the modem's Run takes the line first, so the reply is complete.
		tk.Loop().CallLater(time.Second, func() {
			d.say("+CSQ: 21,99")
			d.say("OK")
			asker.Cancel()
		})
		if werr := asker.Wait(tk); werr != nil {
			return werr
		}
		if err != nil || rep.Final != "OK" {
			return fmt.Errorf("reply complete before the cancellation: %+v, %v; want it returned", rep, err)
		}
		return nil
	})
}
