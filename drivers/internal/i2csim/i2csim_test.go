package i2csim_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
	"github.com/edgeagent/edgeagent/loop"
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
	if fmt.Sprint(got) != "[false true false false true]" || handled != 2 || powerUps != 2 || len(c.Ops()) != 5 || c.SetSpeed(0) == nil {
		t.Errorf("acks %v, handled %d, power-ups %d, %d ops", got, handled, powerUps, len(c.Ops()))
	}
}

// The log keeps the latest DefaultLogLimit transactions, oldest first, so
// a long demo's memory stays bounded; Transactions counts them all.
// SetLogLimit shrinks (keeping the latest) or turns the log off.
func TestRecorderLogIsBounded(t *testing.T) {
	rec := i2csim.NewRecorder(errNACK)
	ok := func(time.Time, uint16, []byte, []byte) error { return nil }
	n := i2csim.DefaultLogLimit + 10
	for i := range n {
		_ = rec.Tx(nil, uint16(i), nil, nil, ok)
	}
	ops := rec.Ops()
	if len(ops) != i2csim.DefaultLogLimit || ops[0].Addr != 10 || ops[len(ops)-1].Addr != uint16(n-1) || rec.Transactions() != uint64(n) {
		t.Fatalf("%d kept, first %d, last %d, %d counted; want %d, 10, %d, %d",
			len(ops), ops[0].Addr, ops[len(ops)-1].Addr, rec.Transactions(), i2csim.DefaultLogLimit, n-1, n)
	}
	rec.SetLogLimit(3)
	_ = rec.Tx(nil, 0xAAA, nil, nil, ok)
	var got []uint16
	for _, op := range rec.Ops() {
		got = append(got, op.Addr)
	}
	if want := fmt.Sprint([]uint16{uint16(n - 2), uint16(n - 1), 0xAAA}); fmt.Sprint(got) != want {
		t.Errorf("limit 3: %v, want %s", got, want)
	}
	rec.SetLogLimit(0)
	_ = rec.Tx(nil, 1, nil, nil, ok)
	if len(rec.Ops()) != 0 || rec.Transactions() != uint64(n+2) {
		t.Errorf("limit 0: %d kept, %d counted", len(rec.Ops()), rec.Transactions())
	}
}

// BusTime counts nine bit times a byte plus start, repeated start and
// stop: a 3-byte read is 38 bit times, a register read of six (W1 R6) 84,
// a NACKed address 11.
func TestBusTime(t *testing.T) {
	for _, c := range []struct {
		w, r  int
		acked bool
		want  time.Duration
	}{
		{0, 3, true, 380 * time.Microsecond},
		{1, 6, true, 840 * time.Microsecond},
		{2, 0, true, 290 * time.Microsecond},
		{1, 6, false, 110 * time.Microsecond},
	} {
		if got := i2csim.BusTime(100*physic.KiloHertz, c.w, c.r, c.acked); got != c.want {
			t.Errorf("BusTime(100kHz, %d, %d, %v) = %v, want %v", c.w, c.r, c.acked, got, c.want)
		}
	}
}

// A transaction on the loop given to ChargeBusTime advances its virtual
// clock by the bus time at the speed set; one from another goroutine (an
// Offload) does not, nor one before ChargeBusTime.
func TestChargeBusTime(t *testing.T) {
	var mu sync.Mutex
	c := i2csim.NewChip(&mu, 0x40, nil, errNACK, i2csim.NewRecorder(errNACK),
		func(time.Time, []byte, []byte) error { return nil }, func() {})
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc), loop.WithLogger(slog.New(slog.DiscardHandler)))
	var got []time.Duration
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		_ = c.Tx(0x40, nil, make([]byte, 3)) // not charged yet
		got = append(got, vc.Elapsed())
		c.ChargeBusTime(l, vc)
		_ = c.Tx(0x40, nil, make([]byte, 3))
		got = append(got, vc.Elapsed())
		if err := c.SetSpeed(10 * physic.KiloHertz); err != nil {
			return err
		}
		_ = c.Tx(0x41, []byte{1}, nil) // not acknowledged: the address only
		got = append(got, vc.Elapsed())
		_, err := loop.Offload(tk, func(context.Context) (struct{}, error) {
			return struct{}{}, c.Tx(0x40, nil, make([]byte, 3))
		})
		got = append(got, vc.Elapsed())
		return err
	})
	if want := "[0s 380µs 1.48ms 1.48ms]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("elapsed %v, %v; want %s", got, err, want)
	}
}
