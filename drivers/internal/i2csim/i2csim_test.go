package i2csim_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
)

var errNACK = errors.New("sim: NACK")

// Tx logs what was written (a copy), the time, and what was read only
// when the transaction succeeded; with no clock the time is zero.
func TestRecorderLog(t *testing.T) {
	rec := i2csim.NewRecorder(errNACK)
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	w := []byte{0xE7}
	err := rec.Tx(func() time.Time { return at }, 0x40, w, make([]byte, 2), func(now time.Time, addr uint16, w, r []byte) error {
		if !now.Equal(at) || addr != 0x40 || len(w) != 1 || len(r) != 2 {
			return fmt.Errorf("tx called with %v %#x %x %d", now, addr, w, len(r))
		}
		r[0], r[1] = 0x02, 0x03
		return nil
	})
	w[0] = 0 // the log keeps its own copy
	err2 := rec.Tx(nil, 0x41, []byte{0xFE}, make([]byte, 1), func(time.Time, uint16, []byte, []byte) error { return errNACK })
	if err != nil || err2 != errNACK {
		t.Fatalf("Tx: %v, %v", err, err2)
	}
	ops := rec.Ops()
	got := fmt.Sprintf("%v", ops)
	if want := "[W[e7] R[02 03] W[fe] NACK]"; got != want || !ops[0].At.Equal(at) || !ops[1].At.IsZero() ||
		ops[0].Addr != 0x40 || ops[1].Addr != 0x41 || ops[1].R != nil || ops[1].Err != errNACK {
		t.Errorf("log %s %+v, want %s", got, ops, want)
	}
	ops[0] = i2csim.Op{}
	if rec.Ops()[0].Addr != 0x40 {
		t.Error("Ops returned the log itself, not a copy")
	}
}

// FailNext(n) makes exactly the next n TakeNACK calls true; zero or a
// negative count none.
func TestRecorderFailNext(t *testing.T) {
	rec := i2csim.NewRecorder(errNACK)
	var got []bool
	rec.FailNext(2)
	for range 3 {
		got = append(got, rec.TakeNACK())
	}
	rec.FailNext(-1)
	got = append(got, rec.TakeNACK())
	rec.FailNext(1)
	rec.FailNext(0)
	got = append(got, rec.TakeNACK())
	if want := "[true true false false false]"; fmt.Sprint(got) != want {
		t.Errorf("TakeNACK: %v, want %s", got, want)
	}
}

// A violation is listed, in order, and its error wraps the NACK error.
func TestRecorderViolations(t *testing.T) {
	rec := i2csim.NewRecorder(errNACK)
	err := rec.Violation("empty transaction")
	_ = rec.Violation("second")
	if !errors.Is(err, errNACK) || err.Error() != "sim: NACK: empty transaction" {
		t.Errorf("Violation: %v", err)
	}
	if got := fmt.Sprintf("%q", rec.Violations()); got != `["empty transaction" "second"]` {
		t.Errorf("Violations() = %s", got)
	}
}

// A Chip acknowledges only its address, only while present, and not the
// transactions FailNext fails; the rest go to the simulator's handler,
// with the simulator's lock held. Reconnecting and PowerCycle power up.
func TestChip(t *testing.T) {
	var mu sync.Mutex
	var handled, powerUps int
	c := i2csim.NewChip(&mu, 0x40, nil, errNACK, i2csim.NewRecorder(errNACK),
		func(_ time.Time, w, r []byte) error {
			if mu.TryLock() {
				t.Error("handler called without the lock")
			}
			handled++
			return nil
		},
		func() { powerUps++ })
	var got []string
	try := func(addr uint16) { got = append(got, fmt.Sprint(c.Tx(addr, []byte{1}, nil) == nil)) }
	try(0x41)
	try(0x40)
	c.FailNext(1)
	try(0x40)
	c.SetPresent(false)
	try(0x40)
	c.SetPresent(true)
	try(0x40)
	c.PowerCycle()
	if fmt.Sprint(got) != "[false true false false true]" || handled != 2 || powerUps != 2 || len(c.Ops()) != 5 || c.SetSpeed(0) != nil {
		t.Errorf("acks %v, handled %d, power-ups %d, %d ops", got, handled, powerUps, len(c.Ops()))
	}
}
