package uart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/drivers/internal/inlet"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// A Stream is a serial device opened by path, kept open across its
// disappearances, read and written from tasks of one loop.
//
// Run, as a task, owns the connection: it opens the port, restarts it with
// back-off when it fails, and closes it when cancelled. Reads (ReadLine,
// ReadExactly, Read, Records) and writes (Write, Drain) are awaits on the
// loop; they work across reconnects. Like everything on the loop, a Stream
// is used from the loop's tasks and callbacks only.
type Stream struct {
	l    *loop.Loop // Run's
	path string
	cfg  config

	running, closed bool
	conn            *conn // the current connection attempt, nil between attempts

	state  State
	latest primitives.Event[State]
	stateq loop.WaitQueue

	inlet *inlet.Inlet // the reader goroutines' way into the loop

	rx   rxState
	rxq  loop.WaitQueue // readers waiting for bytes
	used atomic.Int64   // bytes posted by the reader and not yet consumed

	tx txState

	stats Stats
}

// New returns a stream for the serial device at path, configured by opts,
// reporting every bad option; nothing is opened until Run, whose task's
// loop the stream then belongs to. The path is reopened by name after each
// failure, so a stable name (/dev/serial/by-id/…, a udev symlink) survives
// the device coming back as a different ttyUSBn.
func New(path string, opts ...Option) (*Stream, error) {
	cfg := defaultConfig()
	err := option.Apply(&cfg, opts)
	if path == "" {
		err = errors.Join(errors.New("uart: New: empty device path"), err)
	}
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("uart %s: %w", path, err)
	}
	return &Stream{path: path, cfg: cfg}, nil
}

// Path returns the device path the stream opens.
func (s *Stream) Path() string { return s.path }

// State returns the connection's current state.
func (s *Stream) State() State { return s.state }

// Latest is the event set with every new State, from Connecting when Run
// starts to Closed when it ends, for a task that publishes the
// connection's health (say, to MQTT): it always holds the latest state,
// and any number of tasks may follow it with WaitNext.
func (s *Stream) Latest() *primitives.Event[State] { return &s.latest }

// WaitState waits until ok accepts the current state and returns that
// state; ok is checked at once and after every change. Like every await
// of the stream it fails at once for an interrupted task.
func (s *Stream) WaitState(t *loop.Task, ok func(State) bool) (State, error) {
	if err := await.Checkpoint(t); err != nil {
		return s.state, err
	}
	for !ok(s.state) {
		if err := s.stateq.Wait(t); err != nil {
			return s.state, err
		}
	}
	return s.state, nil
}

// Stats returns the stream's counters.
func (s *Stream) Stats() Stats {
	st := s.stats
	st.Buffered = s.rx.buffered()
	st.Queued = s.tx.queued
	return st
}

func (s *Stream) setState(st State) {
	if s.l != nil {
		st.Since = s.l.Now()
	}
	s.state = st
	s.latest.Set(st)
	s.stateq.WakeAll()
}

// A conn is one attempt to open the port and, if it opened, the connection
// until it ended: loop-side bookkeeping plus the wire its goroutines use.
type conn struct {
	w        *wire
	lp       LoopPort // a port on the loop (no goroutines), once open
	detach   func()
	up       bool      // opened and not yet ended
	since    time.Time // when it opened
	ended    bool
	err      error // why it ended (nil: Run stopped it)
	stopping bool
	txBroken bool // a Write failed: nothing more is handed over
	endq     loop.WaitQueue
}

// await waits until the connection's goroutines have finished.
func (c *conn) await(t *loop.Task) error {
	for !c.ended {
		if err := c.endq.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// Run opens the port and keeps it open until t is cancelled, reopening it
// by path with back-off (see Backoff) whenever opening fails or the
// connection ends: a vanished device is a Disconnected state, never a panic
// or a busy loop. When t is cancelled Run stops the port's goroutines,
// waits for them, sets the Closed state and returns t's error. Run it as a
// task: g.Go("uart", s.Run). It may run again after it has returned (what
// was received and not read is still there), never twice at once
// (ErrRunning), and always on the same loop.
func (s *Stream) Run(t *loop.Task) error {
	if s.running {
		return fmt.Errorf("uart %s: %w", s.path, ErrRunning)
	}
	if s.l != nil && s.l != t.Loop() {
		return fmt.Errorf("uart %s: Run on another loop than before", s.path)
	}
	s.running, s.closed, s.l = true, false, t.Loop()
	defer func() { s.running = false }()
	s.setState(State{Status: Connecting})
	defer s.close()
	attempt := 0
	for {
		c, err := s.dial(t)
		if err != nil {
			return err // interrupted while the port opened
		}
		if err := c.await(t); err != nil {
			if stopErr := s.stop(t, c); stopErr != nil {
				return errors.Join(err, stopErr)
			}
			return err
		}
		if c.since != (time.Time{}) && s.l.Now().Sub(c.since) >= s.cfg.backoff.Max {
			attempt = 0
		}
		d := s.cfg.backoff.Delay(attempt, s.cfg.rnd())
		attempt++
		s.setState(State{Status: Disconnected, Err: c.err, Attempt: attempt, Retry: s.l.Now().Add(d)})
		if err := t.Sleep(d); err != nil {
			return err
		}
	}
}

// dial makes a connection attempt: it opens the port through
// loop.Offload — so a virtual clock waits for the open — and starts the
// connection's goroutines, or, for a LoopPort, attaches it on the loop. A
// failed open ends the attempt at once. It returns an error only when t
// is interrupted; a port that opens after that is closed.
func (s *Stream) dial(t *loop.Task) (*conn, error) {
	if s.inlet == nil {
		// One inlet per stream: inlets live as long as the loop. Two
		// places: the last drain of the previous connection may still be
		// queued when the next one starts reading.
		s.inlet = inlet.New(s.l, "uart "+s.path, 2)
	}
	c := &conn{}
	s.conn = c
	h := &opening{}
	open, path, mode, rt := s.cfg.open, s.path, s.cfg.mode, s.cfg.readTimeout
	port, err := loop.Offload(t, func(context.Context) (Port, error) {
		p, err := open(path, &mode)
		if err != nil {
			return nil, fmt.Errorf("uart %s: open (%s): %w", path, modeString(mode), err)
		}
		if _, onLoop := p.(LoopPort); !onLoop {
			if err := p.SetReadTimeout(rt); err != nil {
				p.Close()
				return nil, fmt.Errorf("uart %s: set read timeout: %w", path, err)
			}
		}
		return h.hand(p)
	})
	if err != nil && interrupted(err) {
		s.conn = nil
		h.abandon()
		return nil, err
	}
	switch lp, onLoop := port.(LoopPort); {
	case err != nil:
		s.onEnded(c, err, 0)
	case onLoop:
		s.onOpenedLoop(c, lp)
	default:
		c.w = &wire{
			l:      s.l,
			inlet:  s.inlet,
			path:   s.path,
			used:   &s.used,
			budget: int64(s.cfg.rxBuffer),
			stop:   make(chan struct{}),
			exited: make(chan struct{}),
			txc:    make(chan txReq, 1),
		}
		s.onOpened(c)
		go c.w.run(s, c, port)
	}
	return c, nil
}

// interrupted reports whether err is a task's interruption.
func interrupted(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}

// opening hands an opened port from Offload's goroutine to the loop, or,
// if the task stopped waiting, closes it: a port is never left open.
type opening struct {
	mu        sync.Mutex
	port      Port
	abandoned bool
}

// hand gives p to the loop, unless the open was abandoned.
func (h *opening) hand(p Port) (Port, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.abandoned {
		p.Close()
		return nil, errors.New("uart: open abandoned")
	}
	h.port = p
	return p, nil
}

// abandon closes a port handed over too late to be used, or makes hand
// close it.
func (h *opening) abandon() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.abandoned = true
	if p := h.port; p != nil {
		go p.Close() // off the loop: closing a port may block
	}
}

// stop ends connection c from the loop and waits, shielded from t's
// cancellation, until its goroutines have exited. The wait is bounded in
// real time, not on the loop's clock: it is about goroutines, and a
// virtual clock would jump past any bound before they could report back.
// Offload does the waiting (and holds a virtual clock still meanwhile).
func (s *Stream) stop(t *loop.Task, c *conn) error {
	if c.lp != nil {
		c.stopping = true
		s.endLoop(c, nil)
		return nil
	}
	if !c.stopping {
		c.stopping = true
		close(c.w.stop)
	}
	limit := 2*time.Second + 2*s.cfg.readTimeout
	exited := c.w.exited
	return loop.Shield(t, func(t *loop.Task) error {
		_, err := loop.Offload(t, func(context.Context) (struct{}, error) {
			timer := time.NewTimer(limit)
			defer timer.Stop()
			select {
			case <-exited:
				return struct{}{}, nil
			case <-timer.C:
				return struct{}{}, fmt.Errorf("uart %s: the port's goroutines did not stop within %v (a Write blocked on a device that does not drain?)", s.path, limit)
			}
		})
		return err
	})
}

// close ends the stream when Run returns.
func (s *Stream) close() {
	s.closed = true
	s.setState(State{Status: Closed})
	s.rxq.WakeAll()
	s.tx.fail(s)
}

// onOpened runs on the loop when c's port has opened.
func (s *Stream) onOpened(c *conn) {
	c.up, c.since = true, s.l.Now()
	s.stats.Connects++
	s.setState(State{Status: Connected})
	s.tx.kick(s)
}

// onEnded runs on the loop when c's goroutines have finished: the port
// failed to open, vanished, failed, or was stopped. lost counts bytes read
// and dropped since the last post.
func (s *Stream) onEnded(c *conn, err error, lost uint64) {
	s.rx.feed(s, lost, nil)
	switch {
	case c.up:
		cause := err
		if c.stopping {
			cause = ErrClosed
		} else {
			s.stats.Disconnects++
		}
		s.rx.cut(cause)
		s.rxq.WakeAll()
	case !c.stopping:
		s.stats.OpenFailures++
	}
	c.up, c.ended, c.err = false, true, err
	if s.conn == c {
		s.conn = nil
	}
	s.tx.fail(s)
	c.endq.WakeAll()
}
