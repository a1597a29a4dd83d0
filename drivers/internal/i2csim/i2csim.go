// Package i2csim is what the chip simulators (htu21dtest, adxl345test)
// share as simulated I2C buses: the log of transactions with their times,
// the list of violations, and injected NACKs.
//
// It must not know any chip: what a transaction does is the simulator's.
package i2csim

import (
	"fmt"
	"sync"
	"time"
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
