package nec

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/inputdrv"
	"github.com/edgeagent/edgeagent/drivers/internal/option"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
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
	// DefaultQueueSize bounds the receiver's queue of results.
	DefaultQueueSize = 16
)

// ErrRunning is returned by Run while the receiver's Run is running.
var ErrRunning = errors.New("nec: Run is already running")

// Received is what one burst turned out to be: a frame (Frame.Repeat set for
// a repeat code, carrying the key it repeats) or a decode error.
//
// Its JSON is {"time":…,"edges":68,"address":4,"command":8} for a frame
// ("repeat":true and "extended":true added when so), and
// {"time":…,"edges":12,"error":"bad_start","code":-2,"detail":"nec: bad
// start: …"} for a decode error: the error's wire word (see ErrorName),
// the seed's code and the message.
type Received struct {
	Frame Frame
	// Err is nil for a frame, else a *DecodeError (match it with errors.Is
	// against ErrBadStart …).
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

// MarshalJSON gives the wire form described on Received.
func (r Received) MarshalJSON() ([]byte, error) {
	type frame struct {
		Time     time.Time `json:"time"`
		Edges    int       `json:"edges"`
		Address  uint16    `json:"address"`
		Command  uint8     `json:"command"`
		Repeat   bool      `json:"repeat,omitempty"`
		Extended bool      `json:"extended,omitempty"`
	}
	type failure struct {
		Time   time.Time `json:"time"`
		Edges  int       `json:"edges"`
		Error  string    `json:"error"`
		Code   int       `json:"code"`
		Detail string    `json:"detail"`
	}
	if r.Err != nil {
		return json.Marshal(failure{r.Time, r.Edges, ErrorName(r.Err), ErrorCode(r.Err), r.Err.Error()})
	}
	f := r.Frame
	return json.Marshal(frame{r.Time, r.Edges, f.Address, f.Command, f.Repeat, f.Extended})
}

// Stats counts what a Receiver has seen.
type Stats struct {
	Frames  uint64 // data frames decoded
	Repeats uint64 // repeat codes decoded
	Errors  uint64 // bursts that failed to decode
	Dropped uint64 // results lost because a queue was full or closed
	Late    uint64 // edges stamped inside an already decoded burst's window, ignored
}

type config struct {
	inputdrv.Config[Received]
	extended      bool
	blockWait     time.Duration
	repeatTimeout time.Duration
	noErrors      bool
}

// An Option configures a Receiver.
type Option func(*config) error

const pkg = "nec"

// AcceptExtended accepts 16-bit addresses (see Decode) and waits
// ExtendedBlockWait, their longer frames' time, before decoding.
func AcceptExtended() Option {
	return func(c *config) error { return option.Set(&c.extended, true) }
}

// WithBlockWait sets how long after a burst's first edge it is decoded
// (default BlockWait, or ExtendedBlockWait with AcceptExtended). It must be
// 20 ms or more, and shorter than RepeatPeriod, or a repeat code would run
// into the frame.
func WithBlockWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 20*time.Millisecond || d >= RepeatPeriod {
			return option.Errorf(pkg, fmt.Sprintf("WithBlockWait(%v)", d), "want 20ms to %v (a repeat code follows a frame's start after %v)", RepeatPeriod, RepeatPeriod)
		}
		return option.Set(&c.blockWait, d)
	}
}

// WithRepeatTimeout sets how long after the last valid burst a repeat code
// is still taken as the same key held (default 300 ms, at least
// RepeatPeriod); a later one is ErrBadRepeat, so a stray repeat cannot
// re-fire an old key.
func WithRepeatTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < RepeatPeriod {
			return option.Errorf(pkg, fmt.Sprintf("WithRepeatTimeout(%v)", d), "want at least the repeat period, %v", RepeatPeriod)
		}
		return option.Set(&c.repeatTimeout, d)
	}
}

// WithQueueSize bounds the receiver's queue of results (default 16). When
// nobody takes them, the oldest is dropped to make room, and counted.
func WithQueueSize(n int) Option {
	return func(c *config) error { return option.QueueSize(pkg, &c.QueueSize, n) }
}

// OnEvent calls fn on the loop with every result, errors included, before
// it is queued. fn must not block.
func OnEvent(fn func(Received)) Option {
	return func(c *config) error { return option.Set(&c.OnEvent, fn) }
}

// WithoutErrors keeps failed bursts out of the queues: they are counted in
// Stats.Errors, logged at debug level and passed to OnEvent only.
func WithoutErrors() Option {
	return func(c *config) error { return option.Set(&c.noErrors, true) }
}

// WithInput passes options to the receiver's gpioin.Input (a pull, say).
// The mode is always gpioin.Edges: NEC edges are 562.5 µs apart, too fast to
// poll, so Run fails on a pin without edge detection.
func WithInput(opts ...gpioin.Option) Option {
	return func(c *config) error { return c.AddInput(opts) }
}

// A Receiver is an NEC infra-red receiver on one input pin (the seed's
// aremote.py): the input layer's goroutine stamps every edge; the first edge
// of a burst starts a block wait measured from that stamp — so the time the
// edge took to reach the loop is not added (the seed's latency logic); when
// the wait is over, the burst is decoded with a Decoder and the result goes
// to the receiver's queue and an optional callback. A burst that still
// looks like a data frame in progress when the wait ends (a slow remote)
// gets one extension of a fifth of the wait.
//
// Its methods are called on the loop.
type Receiver struct {
	cfg   config
	in    *gpioin.Input
	out   *outlet.Outlet[Received]
	dec   Decoder
	stats Stats // Dropped is out's

	running   bool
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

// New returns a Receiver on pin, the output of an IR receiver module (idle
// high, low during a mark), configured by opts, reporting every bad option.
// It does not touch the pin until Run.
func New(pin gpio.PinIn, opts ...Option) (*Receiver, error) {
	cfg := config{
		Config:        inputdrv.Config[Received]{QueueSize: DefaultQueueSize},
		repeatTimeout: DefaultRepeatTimeout,
	}
	// Idle high, so pulled up like an active-low contact; never polled.
	in, out, err := inputdrv.Build(pkg, pin, &cfg.Config, option.Apply(&cfg, opts), gpioin.WithMode(gpioin.Edges))
	if err != nil {
		return nil, err
	}
	if cfg.blockWait == 0 {
		cfg.blockWait = BlockWait
		if cfg.extended {
			cfg.blockWait = ExtendedBlockWait
		}
	}
	r := &Receiver{cfg: cfg, in: in, out: out, pin: pin.String()}
	r.dec.Extended = cfg.extended
	return r, nil
}

// Run receives until t is cancelled, and returns t's interruption or a pin
// configuration error (a pin without edge detection, among others: NEC
// cannot be polled). Run it as a task of its own; it may run again after
// it has returned.
func (r *Receiver) Run(t *loop.Task) error {
	if r.running {
		return ErrRunning
	}
	r.running = true
	defer func() { r.running = false }()
	r.l = t.Loop()
	defer r.stop()
	return r.in.Run(t, r.edge)
}

// Events returns the receiver's queue of results. One consumer takes them;
// another subscribes with Subscribe.
func (r *Receiver) Events() *primitives.Queue[Received] { return r.out.Events() }

// Subscribe returns a further queue of size results that gets every result
// from now on, for a second consumer; closing it unsubscribes.
func (r *Receiver) Subscribe(size int) *primitives.Queue[Received] { return r.out.Subscribe(size) }

// Stats returns the receiver's counters.
func (r *Receiver) Stats() Stats {
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
