// Package i2csim is what the chip simulators (htu21dtest, adxl345test)
// share as simulated I2C buses: the chip's address and presence, the
// bounded log of transactions with their times, the list of violations,
// injected NACKs and power cycles, and the bus time a transaction takes,
// charged to a loop's virtual clock.
//
// It must not know any chip: what a transaction does is the simulator's.
package i2csim

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/loop"
)

// DefaultLogLimit is how many transactions a Recorder keeps by default:
// the latest ones, so a simulator in a long demo holds about 90 KB of log
// (1024 six-byte register reads, measured) instead of growing without
// bound, while a test sees all of a short scenario (Transactions counts
// beyond it).
const DefaultLogLimit = 1024

// DefaultSpeed is the bus speed the simulation assumes until SetSpeed: the
// standard mode of I2C, and Linux's default.
const DefaultSpeed = 100 * physic.KiloHertz

// Op is one logged transaction.
type Op struct {
	At   time.Time
	Addr uint16
	W, R []byte // what was written, and what was read (nil on failure)
	Err  error
}

func (o Op) String() string {
	s := fmt.Sprintf("W[% x]", o.W)
	if o.R != nil {
		s += fmt.Sprintf(" R[% x]", o.R)
	}
	if o.Err != nil {
		s += " NACK"
	}
	return s
}

// A Recorder keeps a simulated chip's transaction log — the latest
// DefaultLogLimit transactions, or as SetLogLimit says — and the count of
// all of them, its violations and the NACKs injected into it. It is safe
// for use from several goroutines.
type Recorder struct {
	nack error // the simulator's NACK error, which violations wrap

	mu         sync.Mutex
	nacks      int
	limit      int    // transactions kept
	log        []Op   // a ring once full: log[head] is the oldest
	head       int    //
	total      uint64 // transactions ever logged
	violations []string
}

// NewRecorder returns a Recorder whose violations wrap nack.
func NewRecorder(nack error) *Recorder { return &Recorder{nack: nack, limit: DefaultLogLimit} }

// SetLogLimit makes the log keep the latest n transactions (0 keeps none);
// the ones beyond n already kept are forgotten, the oldest first.
// Transactions counts them all the same.
func (r *Recorder) SetLogLimit(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ordered()
	r.limit = max(n, 0)
	if len(ops) > r.limit {
		ops = ops[len(ops)-r.limit:]
	}
	r.log, r.head = append([]Op(nil), ops...), 0
}

// ordered returns the kept transactions, oldest first; mu is held.
func (r *Recorder) ordered() []Op {
	return append(append([]Op(nil), r.log[r.head:]...), r.log[:r.head]...)
}

// add logs op, forgetting the oldest when the log is full; mu is held.
func (r *Recorder) add(op Op) {
	r.total++
	switch {
	case r.limit == 0:
	case len(r.log) < r.limit:
		r.log = append(r.log, op)
	default:
		r.log[r.head] = op
		r.head = (r.head + 1) % len(r.log)
	}
}

// Tx does one transaction with tx and logs it: the time from now (zero if
// now is nil), what was written, what was read if tx succeeded, and tx's
// error. A simulator calls it from its i2c.Bus Tx with its own lock held,
// so that the log is in the order the transactions happened.
func (r *Recorder) Tx(now func() time.Time, addr uint16, w, rd []byte, tx func(at time.Time, addr uint16, w, r []byte) error) error {
	op := Op{Addr: addr, W: append([]byte(nil), w...)}
	if now != nil {
		op.At = now()
	}
	op.Err = tx(op.At, addr, w, rd)
	if op.Err == nil && len(rd) > 0 {
		op.R = append([]byte(nil), rd...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(op)
	return op.Err
}

// FailNext makes TakeNACK report true for the next n calls.
func (r *Recorder) FailNext(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nacks = n
}

// TakeNACK reports whether the transaction in progress is one FailNext
// asked to fail, and counts it.
func (r *Recorder) TakeNACK() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nacks <= 0 {
		return false
	}
	r.nacks--
	return true
}

// Violation lists what as a misuse of the chip and returns the
// transaction's error: the NACK error, with what.
func (r *Recorder) Violation(what string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violations = append(r.violations, what)
	return fmt.Errorf("%w: %s", r.nack, what)
}

// Ops returns a copy of the transaction log: the latest transactions,
// oldest first.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ordered()
}

// Transactions reports how many transactions were logged, including the
// ones the log no longer keeps.
func (r *Recorder) Transactions() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Violations returns the misuses listed, in order.
func (r *Recorder) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// A Chip is the part of a simulated chip that is the same for every chip:
// one address on a bus of its own, present or not, NACKs injected on
// demand, every transaction logged and, when asked, its bus time charged to
// a loop's virtual clock. A simulator embeds it, so these methods are the
// simulator's: Tx, SetSpeed, ChargeBusTime, FailNext, SetPresent,
// PowerCycle, SetLogLimit, Ops, Transactions and Violations. The
// simulator's own state is guarded by the mutex it passes to NewChip,
// which every method here holds while it calls the simulator back.
type Chip struct {
	mu      *sync.Mutex
	now     func() time.Time
	addr    uint16
	nack    error
	rec     *Recorder
	absent  bool
	handle  func(now time.Time, w, r []byte) error
	powerUp func()

	speed physic.Frequency
	l     *loop.Loop         // ChargeBusTime's loop and clock, or nil
	vc    *loop.VirtualClock //
}

// NewChip returns a chip at addr whose transactions, once addressed,
// present and not failed by FailNext, are handled by handle, and which
// powerUp resets to its power-up state; both are called with mu held. now
// is the clock of the log and of handle (nil: the zero time); rec keeps
// the log and the violations, and its NACK error is the chip's.
func NewChip(mu *sync.Mutex, addr uint16, now func() time.Time, nack error, rec *Recorder,
	handle func(now time.Time, w, r []byte) error, powerUp func()) *Chip {
	return &Chip{mu: mu, now: now, addr: addr, nack: nack, rec: rec, handle: handle, powerUp: powerUp, speed: DefaultSpeed}
}

// Tx implements i2c.Bus: a transaction for another address, for an absent
// chip or failed by FailNext is not acknowledged; the rest is the chip's.
// Called on the loop given to ChargeBusTime, it advances the loop's
// virtual clock by the transaction's bus time (BusTime) before it returns,
// as a real inline transfer holds the loop for it.
func (c *Chip) Tx(addr uint16, w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	acked := false
	err := c.rec.Tx(c.now, addr, w, r, func(now time.Time, addr uint16, w, r []byte) error {
		if addr != c.addr || c.absent || c.rec.TakeNACK() {
			return c.nack
		}
		acked = true
		return c.handle(now, w, r)
	})
	if c.vc != nil && c.l.OnLoop() {
		c.vc.Advance(BusTime(c.speed, len(w), len(r), acked))
	}
	return err
}

// BusTime is how long a transaction writing w bytes and then reading r
// bytes holds a bus at speed: a start, the address byte and each byte
// written, nine bit times each (eight and the acknowledge), a repeated
// start and the address again before a read, each byte read, a stop. A
// transaction not acknowledged ends after its address byte.
func BusTime(speed physic.Frequency, w, r int, acked bool) time.Duration {
	bits := 1 + 9 + 1 // start, address, stop
	if acked {
		bits += 9 * w
		if r > 0 {
			if w > 0 {
				bits += 1 + 9 // repeated start, address again
			}
			bits += 9 * r
		}
	}
	return time.Duration(bits) * speed.Period()
}

// SetSpeed implements i2c.Bus: the speed BusTime is computed at (default
// DefaultSpeed). A bit-banged 10 kHz bus makes a transfer take ten times
// as long.
func (c *Chip) SetSpeed(f physic.Frequency) error {
	if f <= 0 {
		return fmt.Errorf("i2csim: SetSpeed(%v): want a positive frequency", f)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.speed = f
	return nil
}

// ChargeBusTime makes every transaction done on l — by a task or callback
// of l, not an Offload goroutine — advance vc, l's virtual clock, by its
// bus time. Under a virtual clock the loop's hog detector counts virtual
// time, so a driver that holds the loop through slow transfers is
// reported the same way on every run, however loaded the machine is.
func (c *Chip) ChargeBusTime(l *loop.Loop, vc *loop.VirtualClock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.l, c.vc = l, vc
}

// FailNext makes the chip acknowledge none of the next n transactions.
func (c *Chip) FailNext(n int) { c.rec.FailNext(n) }

// SetPresent connects or disconnects the chip: an absent chip acknowledges
// nothing, and connecting it again is a power-up.
func (c *Chip) SetPresent(present bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.absent && present {
		c.powerUp()
	}
	c.absent = !present
}

// PowerCycle resets the chip to its power-up state, as a brown-out does,
// without any transaction failing.
func (c *Chip) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powerUp()
}

// Ops returns a copy of the transaction log: the latest transactions,
// oldest first (see SetLogLimit).
func (c *Chip) Ops() []Op { return c.rec.Ops() }

// SetLogLimit makes the log keep the latest n transactions (default
// DefaultLogLimit; 0 keeps none).
func (c *Chip) SetLogLimit(n int) { c.rec.SetLogLimit(n) }

// Transactions reports how many transactions the chip has seen, including
// the ones its log no longer keeps.
func (c *Chip) Transactions() uint64 { return c.rec.Transactions() }

// Violations lists the transactions that misused the chip, in order.
func (c *Chip) Violations() []string { return c.rec.Violations() }
