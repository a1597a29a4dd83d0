package agent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// atModem is the `at_modem` device: an AT-command modem on a serial port.
// The request method `at` sends it a command and replies with its lines;
// AT+CSQ, asked every signal_interval, is the signal sensor (dBm).
// Unsolicited result codes (RING, +CMTI: …) are logged.
type atModem struct {
	spec  *config.ATModem
	modem *atmodem.Modem // while run runs
	csq   int            // the simulated signal quality
}

func newATModem(s *config.ATModem) (device, error) {
	return &atModem{spec: s, csq: -1}, nil
}

func (d *atModem) run(t *loop.Task, env *devEnv) error {
	g := loop.NewGroup(t)
	sopts := append(serialOptions(d.spec.Serial), uart.WithLineEnding(uart.AnyEOL))
	if d.spec.Simulate != nil {
		sopts = append(sopts, uart.WithOpener(d.simulated(env).Opener()))
	}
	s, err := uart.New(d.spec.Port, sopts...)
	if err != nil {
		return fmt.Errorf("uart: %w", err)
	}
	g.Go("uart", s.Run)
	g.Go("health", func(t *loop.Task) error { return followStream(t, s, env) })
	opts := []atmodem.Option{atmodem.WithQuiet(d.spec.Quiet), atmodem.WithTimeout(d.spec.CommandTimeout)}
	if d.spec.RequireFinal {
		opts = append(opts, atmodem.WithRequireFinal())
	}
	if d.spec.URCPrefixes != nil {
		var specs []atmodem.URCSpec
		for _, p := range d.spec.URCPrefixes {
			specs = append(specs, atmodem.URCSpec{Prefix: p})
		}
		opts = append(opts, atmodem.WithURCs(specs...))
	}
	m, err := atmodem.New(s, opts...)
	if err != nil {
		return fmt.Errorf("atmodem: %w", err)
	}
	d.modem = m
	defer func() { d.modem = nil }()
	g.Go("modem", m.Run)
	g.Go("urcs", func(t *loop.Task) error {
		for {
			u, err := m.Events().Get(t)
			if err != nil {
				if errors.Is(err, primitives.ErrClosed) {
					return nil
				}
				return err
			}
			env.log.Info("modem: unsolicited result", "lines", u.Lines)
		}
	})
	if d.spec.SignalInterval > 0 {
		g.Go("signal", func(t *loop.Task) error { return d.signal(t, env, s) })
	}
	return g.Wait(t)
}

// signal asks AT+CSQ every signal interval and publishes the signal in dBm.
func (d *atModem) signal(t *loop.Task, env *devEnv, s *uart.Stream) error {
	for {
		if _, err := s.WaitState(t, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
			return err
		}
		if d.modem != nil {
			r, err := d.modem.Command(t, "AT+CSQ")
			switch {
			case t.Cancelled():
				return loop.ErrCancelled
			case err != nil:
				env.log.Warn("modem: AT+CSQ failed", "err", err)
			default:
				if dbm, ok := parseCSQ(r.Lines); ok {
					env.state("signal", dbm, env.now())
				}
			}
		}
		if err := sleepAligned(t, d.spec.SignalInterval); err != nil {
			return err
		}
	}
}

// parseCSQ reads "+CSQ: <rssi>,<ber>" into dBm (27.007: rssi 0 is −113
// dBm or less, 31 is −51 or more, 2 dB a step; 99 is unknown).
func parseCSQ(lines []string) (float64, bool) {
	for _, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "+CSQ:")
		if !ok {
			continue
		}
		rssi, _, _ := strings.Cut(strings.TrimSpace(rest), ",")
		n, err := strconv.Atoi(strings.TrimSpace(rssi))
		if err != nil || n < 0 || n > 31 {
			return 0, false
		}
		return float64(-113 + 2*n), true
	}
	return 0, false
}

// ATReply is the reply of the at method.
type ATReply struct {
	Command string   `json:"command"`
	Lines   []string `json:"lines"`
	Final   string   `json:"final"`
}

// at sends one command (the at request method).
func (d *atModem) at(t *loop.Task, command string) (any, error) {
	if d.modem == nil {
		return nil, fmt.Errorf("the modem is not running")
	}
	if strings.ContainsAny(command, "\r\n") {
		return nil, fmt.Errorf("a command is one line: %q", command)
	}
	r, err := d.modem.Command(t, command)
	if err != nil {
		return nil, err
	}
	lines := r.Lines
	if lines == nil {
		lines = []string{}
	}
	return ATReply{Command: r.Command, Lines: lines, Final: r.Final}, nil
}

func (d *atModem) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

func (d *atModem) read(t *loop.Task, env *devEnv) (any, error) {
	if d.modem == nil {
		return nil, errNotRunning
	}
	return d.modem.Stats(), nil
}

// simulated is the modem's simulation: the drivers' scripted serial peer,
// answering the configured replies, AT+CSQ with a signal drifting in its
// range, and OK to every other command.
func (d *atModem) simulated(env *devEnv) *uarttest.Peer {
	sim := d.spec.Simulate
	rnd := seeded(env.dev.Name)
	p := uarttest.NewPeer()
	p.OnFunc(func(string) bool { return true }, func(line string) []uarttest.Reply {
		cmd := strings.TrimSpace(line)
		var out []uarttest.Reply
		switch {
		case sim.Replies[cmd] != nil:
			for _, l := range sim.Replies[cmd] {
				out = append(out, uarttest.Reply{Text: l})
			}
		case strings.EqualFold(cmd, "AT+CSQ"):
			lo, hi := sim.CSQ[0], sim.CSQ[1]
			if d.csq < 0 {
				d.csq = (lo + hi) / 2
			}
			d.csq = min(max(d.csq+rnd.IntN(3)-1, lo), hi)
			out = append(out, uarttest.Reply{Text: fmt.Sprintf("+CSQ: %d,99", d.csq)})
		}
		return append(out, uarttest.Reply{Text: "OK"})
	})
	return p
}
