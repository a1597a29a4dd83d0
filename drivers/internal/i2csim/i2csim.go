// Package i2csim is what the chip simulators (htu21dtest, adxl345test)
// share as simulated I2C buses: the chip's address and presence, the log
// of transactions with their times, the list of violations, injected
// NACKs and power cycles.
//
// It must not know any chip: what a transaction does is the simulator's.
package i2csim

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

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

// A Recorder keeps a simulated chip's transaction log, its violations and
// the NACKs injected into it. It is safe for use from several goroutines.
type Recorder struct {
	nack error // the simulator's NACK error, which violations wrap

	mu         sync.Mutex
	nacks      int
	log        []Op
	violations []string
}

// NewRecorder returns a Recorder whose violations wrap nack.
func NewRecorder(nack error) *Recorder { return &Recorder{nack: nack} }

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
	r.log = append(r.log, op)
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

// Ops returns a copy of the transaction log.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.log...)
}

// Violations returns the misuses listed, in order.
func (r *Recorder) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// A Chip is the part of a simulated chip that is the same for every chip:
// one address on a bus of its own, present or not, NACKs injected on
// demand, every transaction logged. A simulator embeds it, so these
// methods are the simulator's: Tx, SetSpeed, FailNext, SetPresent,
// PowerCycle, Ops, Violations. The simulator's own state is guarded by the
// mutex it passes to NewChip, which every method here holds while it
// calls the simulator back.
type Chip struct {
	mu      *sync.Mutex
	now     func() time.Time
	addr    uint16
	nack    error
	rec     *Recorder
	absent  bool
	handle  func(now time.Time, w, r []byte) error
	powerUp func()
}

// NewChip returns a chip at addr whose transactions, once addressed,
// present and not failed by FailNext, are handled by handle, and which
// powerUp resets to its power-up state; both are called with mu held. now
// is the clock of the log and of handle (nil: the zero time); rec keeps
// the log and the violations, and its NACK error is the chip's.
func NewChip(mu *sync.Mutex, addr uint16, now func() time.Time, nack error, rec *Recorder,
	handle func(now time.Time, w, r []byte) error, powerUp func()) *Chip {
	return &Chip{mu: mu, now: now, addr: addr, nack: nack, rec: rec, handle: handle, powerUp: powerUp}
}

// Tx implements i2c.Bus: a transaction for another address, for an absent
// chip or failed by FailNext is not acknowledged; the rest is the chip's.
func (c *Chip) Tx(addr uint16, w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Tx(c.now, addr, w, r, func(now time.Time, addr uint16, w, r []byte) error {
		if addr != c.addr || c.absent || c.rec.TakeNACK() {
			return c.nack
		}
		return c.handle(now, w, r)
	})
}

// SetSpeed implements i2c.Bus; the simulation has no speed.
func (c *Chip) SetSpeed(physic.Frequency) error { return nil }

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

// Ops returns a copy of the transaction log.
func (c *Chip) Ops() []Op { return c.rec.Ops() }

// Violations lists the transactions that misused the chip, in order.
func (c *Chip) Violations() []string { return c.rec.Violations() }
