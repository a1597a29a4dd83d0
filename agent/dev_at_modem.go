package agent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/uart"
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
	var io atmodem.LineIO
	if sim := d.spec.Simulate; sim != nil {
		p := newSimModem(d, env)
		io = p
		env.ready()
	} else {
		s, err := uart.New(env.l, d.spec.Port, append(serialOptions(d.spec.Serial), uart.WithLineEnding(uart.AnyEOL))...)
		if err != nil {
			return fmt.Errorf("uart: %w", err)
		}
		io = s
		g.Go("uart", s.Run)
		g.Go("health", func(t *loop.Task) error { return followStream(t, s, env) })
	}
	opts := []atmodem.Option{atmodem.WithQuiet(d.spec.Quiet), atmodem.WithTimeout(d.spec.CommandTimeout)}
	if d.spec.RequireFinal {
		opts = append(opts, atmodem.WithRequireFinal())
	}
	if d.spec.URCPrefixes != nil {
		opts = append(opts, atmodem.WithURCPrefixes(d.spec.URCPrefixes...))
	}
	m, err := atmodem.New(env.l, io, opts...)
	if err != nil {
		return fmt.Errorf("atmodem: %w", err)
	}
	d.modem = m
	defer func() { d.modem = nil }()
	g.Go("modem", m.Run)
	g.Go("urcs", func(t *loop.Task) error {
		for {
			u, err := m.URCs().Get(t)
			if err != nil {
				if errors.Is(err, primitives.ErrClosed) {
					return nil
				}
				return err
			}
			env.log.Info("modem: unsolicited result", "line", u)
		}
	})
	if d.spec.SignalInterval > 0 {
		g.Go("signal", func(t *loop.Task) error { return d.signal(t, env) })
	}
	return g.Wait(t)
}

// signal asks AT+CSQ every signal interval and publishes the signal in dBm.
func (d *atModem) signal(t *loop.Task, env *devEnv) error {
	for {
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
		if err := t.Sleep(d.spec.SignalInterval); err != nil {
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
		return nil, fmt.Errorf("not running")
	}
	return d.modem.Stats(), nil
}

// simModem answers like a modem: the configured replies, AT+CSQ with a
// signal drifting in its range, OK to the rest. It is the modem's LineIO.
type simModem struct {
	d     *atModem
	env   *devEnv
	lines *primitives.Queue[[]byte]
}

func newSimModem(d *atModem, env *devEnv) *simModem {
	return &simModem{d: d, env: env, lines: primitives.NewQueue[[]byte](64)}
}

func (s *simModem) ReadLine(t *loop.Task) ([]byte, error) { return s.lines.Get(t) }

func (s *simModem) Write(t *loop.Task, p []byte) error {
	cmd := strings.TrimSpace(string(p))
	if err := t.Checkpoint(); err != nil {
		return err
	}
	sim := s.d.spec.Simulate
	reply := func(lines ...string) {
		for _, l := range lines {
			_ = s.lines.TryPut([]byte(l))
		}
	}
	reply(cmd) // the echo
	switch {
	case sim.Replies[cmd] != nil:
		reply(sim.Replies[cmd]...)
	case strings.EqualFold(cmd, "AT+CSQ"):
		lo, hi := sim.CSQ[0], sim.CSQ[1]
		if s.d.csq < 0 {
			s.d.csq = (lo + hi) / 2
		}
		s.d.csq = min(max(s.d.csq+int(seededStep(s.env.now().UnixNano())), lo), hi)
		reply(fmt.Sprintf("+CSQ: %d,99", s.d.csq))
	}
	reply("OK")
	return nil
}

// seededStep is a step of -1, 0 or +1 chosen from a number.
func seededStep(n int64) int64 { return (n/1e6)%3 - 1 }
