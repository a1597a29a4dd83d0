package nec

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
	"periph.io/x/conn/v3/gpio"
)

// Receiver defaults.
const (
	// DefaultRepeatTimeout is how long after the last valid burst a repeat
	// code still refers to its key: a repeat period with one repeat code
	// lost, at 20 % slow, and some.
	DefaultRepeatTimeout = 300 * time.Millisecond
	// DefaultReceiverQueueSize bounds the queue of received bursts.
	DefaultReceiverQueueSize = 16
)

// Received is what one burst turned out to be: a frame (Frame.Repeat set for
// a repeat code, carrying the key it repeats) or a decode error.
type Received struct {
	Frame Frame
	// Err is nil for a frame, else a *DecodeError (match it with errors.Is
	// against the Kind constants).
	Err error
	// Time is when the burst's first edge happened, on the loop's clock, as
	// the input layer stamped it.
	Time time.Time
	// Edges is how many edges the burst had, including any beyond
	// CaptureEdges.
	Edges int
}

func (r Received) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return r.Frame.String()
}

// ReceiverStats counts what a Receiver has seen.
type ReceiverStats struct {
	Frames  uint64 // data frames decoded
	Repeats uint64 // repeat codes decoded
	Errors  uint64 // bursts that failed to decode
	Dropped uint64 // results dropped because the queue was full
	Late    uint64 // edges stamped inside an already decoded burst's window, ignored
}

type rxConfig struct {
	extended      bool
	blockWait     time.Duration
	repeatTimeout time.Duration
	queueSize     int
	onReceive     func(Received)
	noErrors      bool
	input         []gpioin.Option
}

// A ReceiverOption configures a Receiver.
type ReceiverOption func(*rxConfig) error

// AcceptExtended accepts 16-bit addresses (see Decode) and waits
// ExtendedBlockWait, their longer frames' time, before decoding.
func AcceptExtended() ReceiverOption {
	return func(c *rxConfig) error { c.extended = true; return nil }
}

// WithBlockWait sets how long after a burst's first edge it is decoded
// (default BlockWait, or ExtendedBlockWait with AcceptExtended). It must be
// shorter than RepeatPeriod, or a repeat code would run into the frame.
func WithBlockWait(d time.Duration) ReceiverOption {
	return func(c *rxConfig) error {
		if d < 20*time.Millisecond || d >= RepeatPeriod {
			return fmt.Errorf("nec: WithBlockWait(%v): want 20ms to %v (a repeat code follows a frame's start after %v)", d, RepeatPeriod, RepeatPeriod)
		}
		c.blockWait = d
		return nil
	}
}

// WithRepeatTimeout sets how long after the last valid burst a repeat code
// is still taken as the same key held (default 300 ms); a later one is
// ErrBadRepeat, so a stray repeat cannot re-fire an old key.
func WithRepeatTimeout(d time.Duration) ReceiverOption {
	return func(c *rxConfig) error {
		if d < RepeatPeriod {
			return fmt.Errorf("nec: WithRepeatTimeout(%v): want at least the repeat period, %v", d, RepeatPeriod)
		}
		c.repeatTimeout = d
		return nil
	}
}

// WithQueueSize bounds the queue of results (default 16). When nobody takes
// them, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) ReceiverOption {
	return func(c *rxConfig) error {
		if n < 1 {
			return fmt.Errorf("nec: WithQueueSize(%d): must be at least 1", n)
		}
		c.queueSize = n
		return nil
	}
}

// OnReceive calls fn on the loop with every result, errors included, before
// it is queued. fn must not block.
func OnReceive(fn func(Received)) ReceiverOption {
	return func(c *rxConfig) error { c.onReceive = fn; return nil }
}

// WithoutErrors keeps failed bursts out of the queue: they are counted in
// ReceiverStats.Errors and logged at debug level instead.
func WithoutErrors() ReceiverOption {
	return func(c *rxConfig) error { c.noErrors = true; return nil }
}

// WithInput passes options to the receiver's gpioin.Input (a pull, say).
// The mode is always gpioin.Edges: NEC edges are 562.5 µs apart, too fast to
// poll, so Run fails on a pin without edge detection.
func WithInput(opts ...gpioin.Option) ReceiverOption {
	return func(c *rxConfig) error { c.input = append(c.input, opts...); return nil }
}

// A Receiver is an NEC infra-red receiver on one input pin (the seed's
// aremote.py): the input layer's goroutine stamps every edge; the first edge
// of a burst starts a block wait measured from that stamp — so the time the
// edge took to reach the loop is not added (the seed's latency logic); when
// the wait is over, the burst is decoded with a Decoder and the result goes
// to a Queue and an optional callback. A burst that still looks like a data
// frame in progress when the wait ends (a slow remote) gets one extension of
// a fifth of the wait.
//
// Its methods are called on the loop.
type Receiver struct {
	cfg   rxConfig
	in    *gpioin.Input
	out   *inputdrv.Outbox[Received]
	dec   Decoder
	stats ReceiverStats // Dropped is out's

	l         *loop.Loop
	pin       string
	edges     [CaptureEdges]time.Duration
	n         int // edges in the burst, also beyond CaptureEdges
	first     time.Time
	capturing bool
	extended  bool // the block wait was extended once
	deadline  time.Time
	timer     *loop.Timer
	windowEnd time.Time // end of the last decoded burst's window
	lastValid time.Time // first edge of the last valid burst
}

// NewReceiver returns a Receiver on pin, the output of an IR receiver module
// (idle high, low during a mark), configured by opts. It does not touch the
// pin until Run.
func NewReceiver(pin gpio.PinIn, opts ...ReceiverOption) (*Receiver, error) {
	cfg := rxConfig{repeatTimeout: DefaultRepeatTimeout, queueSize: DefaultReceiverQueueSize}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if pin == nil {
		return nil, errors.New("nec: NewReceiver: pin is nil")
	}
	if cfg.blockWait == 0 {
		cfg.blockWait = BlockWait
		if cfg.extended {
			cfg.blockWait = ExtendedBlockWait
		}
	}
	// Idle high, so pulled up like an active-low contact; never polled.
	in, err := inputdrv.NewInput(pin, false, cfg.input, gpioin.WithMode(gpioin.Edges))
	if err != nil {
		return nil, fmt.Errorf("nec: %w", err)
	}
	r := &Receiver{cfg: cfg, in: in, out: inputdrv.NewOutbox(cfg.queueSize, cfg.onReceive), pin: pin.String()}
	r.dec.Extended = cfg.extended
	return r, nil
}

// Run receives until t is cancelled, and returns t's interruption or a pin
// configuration error (a pin without edge detection, among others: NEC
// cannot be polled). Run it as a task of its own.
func (r *Receiver) Run(t *loop.Task) error {
	r.l = t.Loop()
	defer r.stop()
	return r.in.Run(t, r.edge)
}

// Received returns the queue the results go to.
func (r *Receiver) Received() *primitives.Queue[Received] { return r.out.Events() }

// Stats returns the receiver's counters.
func (r *Receiver) Stats() ReceiverStats {
	s := r.stats
	s.Dropped = r.out.Dropped()
	return s
}

// Input returns the receiver's input, for its mode and counters.
func (r *Receiver) Input() *gpioin.Input { return r.in }

func (r *Receiver) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.capturing = false
}

// edge records one edge; the first of a burst starts its block wait.
func (r *Receiver) edge(e gpioin.Edge) {
	if e.Initial {
		return
	}
	// Edges that reach the loop late may belong after the burst's window:
	// decode the burst first, by the stamps, as if its timer had run.
	for r.capturing && !e.Time.Before(r.deadline) {
		r.blockDone()
	}
	if !r.capturing {
		if e.Time.Before(r.windowEnd) {
			r.stats.Late++ // an edge of the burst just decoded, reaching the loop late
			return
		}
		r.capturing, r.extended, r.n, r.first = true, false, 0, e.Time
		r.deadline = e.Time.Add(r.cfg.blockWait)
		r.arm()
	}
	if r.n < CaptureEdges {
		r.edges[r.n] = e.Time.Sub(r.first)
	}
	r.n++
}

func (r *Receiver) arm() {
	d := r.deadline.Sub(r.l.Now())
	if r.timer == nil {
		r.timer = r.l.CallLater(d, r.timerFired)
	} else {
		r.timer.Reset(d)
	}
}

func (r *Receiver) timerFired() {
	if r.capturing && !r.l.Now().Before(r.deadline) { // not a stale callback
		r.blockDone()
	}
}

// blockDone decodes the burst when its block wait is over.
func (r *Receiver) blockDone() {
	if !r.extended && r.frameInProgress() {
		r.extended = true
		r.deadline = r.deadline.Add(r.cfg.blockWait / 5)
		r.arm()
		return
	}
	r.capturing = false
	r.windowEnd = r.deadline
	burst := r.edges[:min(r.n, CaptureEdges)]
	if !r.lastValid.IsZero() && r.first.Sub(r.lastValid) > r.cfg.repeatTimeout {
		r.dec.Reset()
	}
	f, err := r.dec.Decode(burst)
	res := Received{Frame: f, Err: err, Time: r.first, Edges: r.n}
	switch {
	case err != nil:
		r.stats.Errors++
		r.l.Logger().Debug("nec: burst not decoded", "pin", r.pin, "err", err)
	case f.Repeat:
		r.stats.Repeats++
		r.lastValid = r.first
	default:
		r.stats.Frames++
		r.lastValid = r.first
	}
	r.out.Notify(res)
	if err != nil && r.cfg.noErrors {
		return
	}
	r.out.Queue(res)
}

// frameInProgress reports a burst with a data frame's leader and fewer edges
// than a frame: a slow remote whose frame is still arriving.
func (r *Receiver) frameInProgress() bool {
	if r.n < 3 || r.n >= FrameEdges {
		return false
	}
	e := r.edges
	return e[1]-e[0] > minLeaderMark && e[2]-e[1] > minBlockSpace
}
