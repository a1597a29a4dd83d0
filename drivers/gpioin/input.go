package gpioin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/inlet"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// Mode is how an Input learns of level changes.
type Mode uint8

const (
	// Auto uses edges when the pin supports edge detection, else polling.
	Auto Mode = iota
	// Edges uses a goroutine blocked in the pin's WaitForEdge. Asked for
	// explicitly, Run fails if the pin has no edge detection.
	Edges
	// Polling reads the level from a loop task every poll period.
	Polling
	// OnLoop is chosen for a LoopPin: the pin reports its changes on the loop.
	OnLoop
)

func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Edges:
		return "edges"
	case Polling:
		return "polling"
	case OnLoop:
		return "on-loop"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Defaults of the options.
const (
	DefaultPollPeriod   = 10 * time.Millisecond
	DefaultWakeInterval = time.Second
	DefaultEdgeBuffer   = 128
)

// ErrRunning is returned by Run when the Input is already being watched.
var ErrRunning = errors.New("gpioin: input is already running")

// Edge is a level seen on the pin and when it was seen, on the loop's clock.
type Edge struct {
	Level gpio.Level
	// Time is when the edge happened: read by the edge goroutine right after
	// WaitForEdge returned (not when the loop got to it), by the poll task
	// when it read the level, or the loop's time for a LoopPin.
	Time time.Time
	// Initial marks the first call of Run's function: the level read when
	// watching started, not a change.
	Initial bool
}

func (e Edge) String() string {
	s := fmt.Sprintf("%v at %s", e.Level, e.Time.Format("15:04:05.000000"))
	if e.Initial {
		s += " (initial)"
	}
	return s
}

// Stats counts what an Input has delivered.
type Stats struct {
	Edges   uint64 // edges handed to Run's function (the initial level excluded)
	Dropped uint64 // edges lost because the loop fell EdgeBuffer edges behind
}

type config struct {
	pull         gpio.Pull
	mode         Mode
	pollPeriod   time.Duration
	wakeInterval time.Duration
	edgeBuffer   int
}

// An Option configures an Input.
type Option func(*config) error

// WithPull sets the pull resistor Run configures (default gpio.PullNoChange;
// the drivers choose one from their active level).
func WithPull(p gpio.Pull) Option {
	return func(c *config) error {
		if p > gpio.PullUp {
			return fmt.Errorf("gpioin: WithPull(%v): not a gpio.Pull", p)
		}
		c.pull = p
		return nil
	}
}

// WithMode forces a mode: Edges (fail without edge detection) or Polling.
// The default, Auto, takes edges when the pin has them. OnLoop is not a
// choice: a LoopPin is always watched on the loop unless Polling is forced.
func WithMode(m Mode) Option {
	return func(c *config) error {
		if m != Auto && m != Edges && m != Polling {
			return fmt.Errorf("gpioin: WithMode(%v): want Auto, Edges or Polling", m)
		}
		c.mode = m
		return nil
	}
}

// WithPollPeriod sets how often a polled pin is read (default 10 ms). A
// contact change shorter than the period may be missed; each read is a
// wake-up of the loop, so a shorter period costs CPU (the peers' complaint).
func WithPollPeriod(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("gpioin: WithPollPeriod(%v): must be positive", d)
		}
		c.pollPeriod = d
		return nil
	}
}

// WithWakeInterval bounds each WaitForEdge of the edge goroutine (default
// 1 s), so the goroutine notices that Run has ended even on a pin driver
// whose WaitForEdge is not interrupted by In, as periph's contract says it
// should be. Zero waits without bound and relies on that interruption.
func WithWakeInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("gpioin: WithWakeInterval(%v): must not be negative", d)
		}
		c.wakeInterval = d
		return nil
	}
}

// WithEdgeBuffer sets how many edges may wait for the loop (default 128).
// When the loop falls further behind, the newest edge overwrites the last
// buffered one, so the level the loop ends up with is still the pin's; the
// loss is counted in Stats.Dropped.
func WithEdgeBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("gpioin: WithEdgeBuffer(%d): must be at least 1", n)
		}
		c.edgeBuffer = n
		return nil
	}
}

// An Input watches one input pin for its drivers. Its methods are called on
// the loop.
type Input struct {
	pin gpio.PinIn
	cfg config

	running bool
	mode    Mode
	level   gpio.Level
	stats   Stats
	fn      func(Edge)
	w       *watcher // the edge goroutine's, while it runs

	inlet     *inlet.Inlet // the edge goroutine's way into inletLoop
	inletLoop *loop.Loop
}

// New returns an Input for pin configured by opts. It does not touch the pin
// until Run.
func New(pin gpio.PinIn, opts ...Option) (*Input, error) {
	if pin == nil {
		return nil, errors.New("gpioin: New: pin is nil")
	}
	in := &Input{pin: pin, cfg: config{
		pollPeriod:   DefaultPollPeriod,
		wakeInterval: DefaultWakeInterval,
		edgeBuffer:   DefaultEdgeBuffer,
	}}
	if err := option.Apply(&in.cfg, opts); err != nil {
		return nil, fmt.Errorf("%w (pin %s)", err, pin)
	}
	return in, nil
}

// Pin returns the watched pin.
func (in *Input) Pin() gpio.PinIn { return in.pin }

// Mode reports how the pin is watched: Auto until Run has configured it.
func (in *Input) Mode() Mode { return in.mode }

// Level reports the last level seen: the initial read, then each edge's.
func (in *Input) Level() gpio.Level { return in.level }

// Stats returns the Input's counters.
func (in *Input) Stats() Stats {
	s := in.stats
	if in.w != nil {
		s.Dropped += in.w.droppedTotal()
	}
	return s
}

// Run configures the pin as an input and watches it until t is cancelled,
// calling fn on the loop: first once with the level read at the start
// (Edge.Initial), then for each edge. In edge mode a level may repeat when
// the pin driver merged edges; the drivers treat that as activity.
//
// Run returns t's interruption (or a configuration error). Before it
// returns, watching has stopped — no fn call comes later — and the edge
// goroutine, if any, has ended; the pin is left configured with no edge
// detection.
func (in *Input) Run(t *loop.Task, fn func(Edge)) error {
	if in.running {
		return fmt.Errorf("%w (pin %s)", ErrRunning, in.pin)
	}
	if fn == nil {
		return fmt.Errorf("gpioin: Run: fn is nil (pin %s)", in.pin)
	}
	mode, err := in.configure(t.Loop())
	if err != nil {
		return err
	}
	in.running, in.mode, in.fn = true, mode, fn
	defer func() { in.running, in.fn = false, nil }()

	l := t.Loop()
	in.level = in.pin.Read()
	fn(Edge{Level: in.level, Time: l.Now(), Initial: true})

	switch mode {
	case Polling:
		return in.poll(t)
	case OnLoop:
		cancel := in.pin.(LoopPin).Subscribe(l, in.deliver)
		defer cancel()
		return waitForever(t)
	default:
		return in.watchEdges(t)
	}
}

// configure sets the pin up as an input and picks the mode.
func (in *Input) configure(l *loop.Loop) (Mode, error) {
	_, onLoop := in.pin.(LoopPin)
	edgeMode := Edges
	if onLoop {
		edgeMode = OnLoop
	}
	switch in.cfg.mode {
	case Polling:
		if err := in.pin.In(in.cfg.pull, gpio.NoEdge); err != nil {
			return 0, fmt.Errorf("gpioin: pin %s: configure as input (%v, no edge detection): %w", in.pin, in.cfg.pull, err)
		}
		return Polling, nil
	case Edges:
		if err := in.pin.In(in.cfg.pull, gpio.BothEdges); err != nil {
			return 0, fmt.Errorf("gpioin: pin %s: configure as input (%v) with edge detection: %w", in.pin, in.cfg.pull, err)
		}
		return edgeMode, nil
	}
	edgeErr := in.pin.In(in.cfg.pull, gpio.BothEdges)
	if edgeErr == nil {
		return edgeMode, nil
	}
	if err := in.pin.In(in.cfg.pull, gpio.NoEdge); err != nil {
		return 0, fmt.Errorf("gpioin: pin %s: configure as input (%v): %w (with edge detection: %v)", in.pin, in.cfg.pull, err, edgeErr)
	}
	l.Logger().Info("gpioin: pin has no edge detection; polling it",
		"pin", in.pin.String(), "period", in.cfg.pollPeriod, "err", edgeErr)
	return Polling, nil
}

// deliver hands one edge to the driver; called on the loop.
func (in *Input) deliver(e Edge) {
	if in.fn == nil {
		return // arrived after Run ended
	}
	in.level = e.Level
	in.stats.Edges++
	in.fn(e)
}

func (in *Input) poll(t *loop.Task) error {
	l := t.Loop()
	for {
		if err := t.Sleep(in.cfg.pollPeriod); err != nil {
			return err
		}
		if lvl := in.pin.Read(); lvl != in.level {
			in.deliver(Edge{Level: lvl, Time: l.Now()})
		}
	}
}

// waitForever parks t until it is interrupted.
func waitForever(t *loop.Task) error {
	var never loop.WaitQueue
	return never.Wait(t)
}

// watchEdges runs the edge goroutine until t is interrupted, then stops it
// and waits, without blocking the loop, until it has ended.
func (in *Input) watchEdges(t *loop.Task) error {
	l := t.Loop()
	if in.inlet == nil || in.inletLoop != l {
		// One inlet per input and loop: inlets live as long as the loop.
		// Two places: a drain of the previous Run may still be queued.
		in.inlet, in.inletLoop = inlet.New(l, "gpioin "+in.pin.String(), 2), l
	}
	w := &watcher{
		pin:   in.pin,
		clock: l.Clock(),
		wake:  in.cfg.wakeInterval,
		max:   in.cfg.edgeBuffer,
		done:  make(chan struct{}),
		in:    in,
	}
	w.batch = inlet.NewBatch(in.inlet, w.drain)
	in.w = w
	go w.run()
	err := waitForever(t)

	w.closed = true // loop side: batches still in the inbox are dropped
	w.stop.Store(true)
	// periph's contract: In interrupts a WaitForEdge in progress.
	_ = in.pin.In(gpio.PullNoChange, gpio.NoEdge)
	bound := 2*w.wake + time.Second
	if w.wake == 0 {
		bound = 5 * time.Second
	}
	ended := loop.Shield(t, func(t *loop.Task) error {
		_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
			tm := time.NewTimer(bound)
			defer tm.Stop()
			select {
			case <-w.done:
				return struct{}{}, nil
			case <-tm.C:
				return struct{}{}, errors.New("edge goroutine still in WaitForEdge")
			}
		})
		return err
	})
	if ended != nil {
		l.Logger().Error("gpioin: edge watcher did not end; it will when the pin reports an edge or its wait times out",
			"pin", in.pin.String(), "waited", bound, "err", ended)
	}
	in.stats.Dropped += w.droppedTotal()
	in.w = nil
	return err
}

// watcher is the edge goroutine and its hand-over batch (inlet.Batch,
// through an inlet of the Input's): a burst of edges costs one post, and a
// stalled loop holds one post and EdgeBuffer edges, no more.
type watcher struct {
	batch *inlet.Batch[Edge]
	pin   gpio.PinIn
	clock loop.Clock
	wake  time.Duration
	max   int
	stop  atomic.Bool
	done  chan struct{}

	// Loop side.
	closed bool
	in     *Input
}

func (w *watcher) run() {
	defer close(w.done)
	timeout := w.wake
	if timeout == 0 {
		timeout = -1 // periph: no timeout
	}
	for !w.stop.Load() {
		if !w.pin.WaitForEdge(timeout) {
			w.batch.Retry()
			continue // timed out, or interrupted by In: look at stop
		}
		if w.stop.Load() {
			return
		}
		e := Edge{Level: w.pin.Read(), Time: w.clock.Now()}
		if !w.push(e) {
			return // the loop has stopped
		}
	}
}

// push adds e to the batch for the loop; when the loop has fallen EdgeBuffer
// edges behind, e overwrites the last one, so the level the loop ends up
// with is still the pin's, and the loss is counted. It reports false once
// the loop is closed.
func (w *watcher) push(e Edge) bool {
	return w.batch.Add(func(pending []Edge, lost uint64) ([]Edge, uint64) {
		if len(pending) < w.max {
			return append(pending, e), lost
		}
		pending[len(pending)-1] = e
		return pending, lost + 1
	})
}

// drain delivers a batch of edges on the loop.
func (w *watcher) drain(batch []Edge, _ uint64) {
	if w.closed {
		return
	}
	for _, e := range batch {
		w.in.deliver(e)
	}
}

func (w *watcher) droppedTotal() uint64 { return w.batch.Dropped() }
