package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/creack/pty"
	"go.bug.st/serial"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
)

// uartLines is the `uart_lines` device: lines from a serial port become a
// Home Assistant sensor's states (the line, or the part match picks) or
// events; with command, a set command writes a line. The stream reopens a
// vanished port by path with back-off: meanwhile the device is failing.
//
// Simulated, the same stream reads either generated lines (simulate.lines)
// or a pseudo-terminal whose other end is linked at simulate.pty, where
// anyone may write lines (`echo T=21.5 > /run/edgeagent/meter`).
type uartLines struct {
	spec   *config.UARTLines
	stream *uart.Stream // while run runs
	lines  uint64       // lines taken
	skip   uint64       // lines that did not match or parse
}

func newUARTLines(s *config.UARTLines) (device, error) {
	return &uartLines{spec: s}, nil
}

// serialOptions are the stream options of a serial port's settings.
func serialOptions(s config.Serial) []uart.Option {
	return []uart.Option{uart.WithBaud(s.Baud), uart.WithDataBits(s.DataBits), uart.WithParity(s.Parity), uart.WithStopBits(s.StopBits)}
}

func (d *uartLines) run(t *loop.Task, env *devEnv) error {
	opts := append(serialOptions(d.spec.Serial), uart.WithLineEnding(d.spec.LineEnding), uart.WithMaxLine(d.spec.MaxLine))
	g := loop.NewGroup(t)
	path := d.spec.Port
	if sim := d.spec.Simulate; sim != nil {
		if sim.PTY != "" {
			p, err := openSimPty(sim.PTY)
			if err != nil {
				return err
			}
			defer p.close()
			path = sim.PTY
			opts = append(opts, uart.WithOpener(p.open))
		} else {
			// The drivers' scripted serial peer: no goroutine, its bytes
			// move on the loop.
			p := uarttest.NewPeer()
			p.Newline = ending(d.spec.LineEnding)
			opts = append(opts, uart.WithOpener(p.Opener()))
			g.Go("simulate", func(t *loop.Task) error { return d.simulateLines(t, p) })
		}
	}
	s, err := uart.New(path, opts...)
	if err != nil {
		return fmt.Errorf("uart: %w", err)
	}
	d.stream = s
	defer func() { d.stream = nil }()
	g.Go("uart", s.Run)
	g.Go("health", func(t *loop.Task) error { return followStream(t, s, env) })
	g.Go("lines", func(t *loop.Task) error {
		return readLines(t, s, linesPerTurn, env.room, env.log, func(line string) { d.take(env, line, env.now()) })
	})
	return g.Wait(t)
}

// linesPerTurn bounds the lines the device takes in one turn of the loop.
// A burst — a device dumping its log, 45 KB of buffered lines at once —
// is taken in batches with a yield between them, so that the other tasks
// (MQTT, the other devices) run meanwhile: about 1 ms of work a batch,
// where the whole burst in one turn held the loop for 99 ms.
const linesPerTurn = 64

// readLines takes the stream's lines one by one, batch of them at most
// without letting the loop run other tasks, and returns the task's
// interruption or the stream's end. Lost lines are logged, not taken.
// Between batches it also waits for room (when room is set), so a burst
// goes at the pace the outbox takes it, the rest waiting in the stream's
// receive buffer, instead of being dropped before it reaches the disk.
func readLines(t *loop.Task, s *uart.Stream, batch int, room func(*loop.Task) error, log *slog.Logger, take func(line string)) error {
	for n := 0; ; n++ {
		if n == batch {
			n = 0
			if err := t.Yield(); err != nil {
				return err
			}
			if room != nil {
				if err := room(t); err != nil {
					return err
				}
			}
		}
		line, err := s.ReadLine(t)
		var loss *uart.LossError
		switch {
		case errors.As(err, &loss):
			log.Warn("serial data lost", "err", err)
			continue
		case err != nil:
			return err
		}
		take(string(line))
	}
}

// followStream shows the stream's connection as the device's state: ready
// while connected, failing while the port is away.
func followStream(t *loop.Task, s *uart.Stream, env *devEnv) error {
	var seen uint64
	for {
		st, n, err := s.Latest().WaitNext(t, seen)
		if err != nil {
			return err
		}
		seen = n
		switch st.Status {
		case uart.Connected:
			env.ready()
		case uart.Disconnected:
			env.failing(fmt.Errorf("%s: %w (attempt %d, next at %s)", s.Path(), st.Err, st.Attempt, st.Retry.UTC().Format(TimeFormat)))
		}
	}
}

// take turns one line into a state or an event.
func (d *uartLines) take(env *devEnv, line string, at time.Time) {
	d.lines++
	v := line
	if re := d.spec.Match; re != nil {
		m := re.FindStringSubmatch(line)
		if m == nil {
			d.skip++
			env.log.Debug("line ignored: no match", "line", line)
			return
		}
		v = m[0]
		if len(m) > 1 {
			v = m[1]
		}
	}
	if d.spec.As == config.LinesEvent {
		types := d.spec.EventTypes
		if len(types) == 1 && types[0] == "line" {
			env.event("", "line", map[string]any{"line": v}, at)
			return
		}
		for _, typ := range types {
			if typ == strings.TrimSpace(v) {
				env.event("", typ, nil, at)
				return
			}
		}
		d.skip++
		env.log.Debug("line ignored: not one of the event types", "line", line, "event_types", types)
		return
	}
	if d.spec.Numeric {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			d.skip++
			env.log.Warn("line ignored: not a number", "line", line, "value", v)
			return
		}
		env.state("", f, at)
		return
	}
	env.state("", v, at)
}

// command writes the payload as a line.
func (d *uartLines) command(t *loop.Task, _ *devEnv, _ *config.Value, payload []byte) error {
	if !d.spec.Command {
		return errNoCommands
	}
	if d.stream == nil {
		return fmt.Errorf("%s is not open", d.spec.Port)
	}
	if strings.ContainsAny(string(payload), "\r\n") {
		return fmt.Errorf("a command is one line: %q has a line break", truncate(payload, 40))
	}
	line := append(append([]byte{}, payload...), ending(d.spec.CommandEnding)...)
	return loop.WaitFor(t, 5*time.Second, func(t *loop.Task) error { return d.stream.Write(t, line) })
}

// ending is the bytes of a line ending.
func ending(e uart.LineEnding) string {
	switch e {
	case uart.CR:
		return "\r"
	case uart.CRLF, uart.AnyEOL:
		return "\r\n"
	}
	return "\n"
}

// linesReading is what read says of a uart_lines device.
type linesReading struct {
	Port      string `json:"port"`
	Connected string `json:"connection"`
	Lines     uint64 `json:"lines"`
	Ignored   uint64 `json:"ignored"`
}

func (d *uartLines) read(*loop.Task, *devEnv) (any, error) {
	r := linesReading{Port: d.spec.Port, Lines: d.lines, Ignored: d.skip}
	if d.stream != nil {
		r.Connected = d.stream.State().String()
	}
	return r, nil
}

// simulateLines has the simulated device send the configured lines, one
// every Every, round and round.
func (d *uartLines) simulateLines(t *loop.Task, p *uarttest.Peer) error {
	sim := d.spec.Simulate
	for i := 0; ; i = (i + 1) % len(sim.Lines) {
		if err := t.Sleep(sim.Every); err != nil {
			return err
		}
		p.Say(sim.Lines[i])
	}
}

// simPty is a pseudo-terminal for a simulated serial device: the agent
// reads its master; its slave is linked at a path where anyone writes
// lines. The agent holds the slave open too, so the master sees no hang-up
// between writers.
type simPty struct {
	master, slave *os.File
	link          string
}

// openSimPty makes the pty and links its slave at link, replacing a stale
// symbolic link there but never a file.
func openSimPty(link string) (*simPty, error) {
	if fi, err := os.Lstat(link); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil, fmt.Errorf("simulate.pty: %s exists and is not a symbolic link: not replacing it", link)
		}
		if err := os.Remove(link); err != nil {
			return nil, fmt.Errorf("simulate.pty: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return nil, fmt.Errorf("simulate.pty: %w", err)
	}
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("simulate.pty: no pseudo-terminal: %w", err)
	}
	if master, err = pollable(master); err != nil {
		slave.Close()
		return nil, fmt.Errorf("simulate.pty: %w", err)
	}
	if err := os.Symlink(slave.Name(), link); err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("simulate.pty: %w", err)
	}
	return &simPty{master: master, slave: slave, link: link}, nil
}

// open is the stream's Opener: the master, kept open across the stream's
// reconnects.
func (p *simPty) open(string, *serial.Mode) (uart.Port, error) { return &ptyPort{f: p.master}, nil }

func (p *simPty) close() {
	_ = os.Remove(p.link)
	p.slave.Close()
	p.master.Close()
}

// ptyPort is the pty's master as a uart.Port.
type ptyPort struct {
	f  *os.File
	to time.Duration
}

func (p *ptyPort) Read(b []byte) (int, error) {
	if p.to > 0 {
		_ = p.f.SetReadDeadline(time.Now().Add(p.to))
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (p *ptyPort) Write(b []byte) (int, error)          { return p.f.Write(b) }
func (p *ptyPort) SetReadTimeout(d time.Duration) error { p.to = d; return nil }
func (p *ptyPort) Drain() error                         { return nil }

// Close leaves the master open: the pty lives as long as the device runs.
func (p *ptyPort) Close() error { return p.f.SetReadDeadline(time.Now()) }
