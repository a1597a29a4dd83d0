// Package drivertest holds the helpers the drivers' tests share: a loop on a
// virtual clock, I2C buses that log times or answer from fuzz data, the
// hog-detector check of a polling driver (deterministic: simulated bus
// time is charged to the virtual clock), and the playing of a script of
// levels on a gpiointest.Pin into a driver's task.
//
// It is for tests only: no driver may import it.
package drivertest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/loop"
)

// A World is a loop on a virtual clock, its logs discarded.
type World struct {
	L  *loop.Loop
	VC *loop.VirtualClock
}

// NewWorld returns a World whose clock starts at loop.VirtualEpoch; opts go
// to loop.New after the clock and the logger, so they may replace them.
func NewWorld(opts ...loop.Option) *World { return NewWorldAt(loop.VirtualEpoch(), opts...) }

// NewWorldAt returns a World whose clock starts at start.
func NewWorldAt(start time.Time, opts ...loop.Option) *World {
	vc := loop.NewVirtualClockAt(start)
	opts = append([]loop.Option{loop.WithClock(vc), loop.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	return &World{VC: vc, L: loop.New(opts...)}
}

// Run runs main on the loop and fails t if it returns an error.
func (w *World) Run(t testing.TB, main loop.TaskFunc) {
	t.Helper()
	if err := w.L.Run(context.Background(), main); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Since is the virtual time elapsed at at.
func (w *World) Since(at time.Time) time.Duration { return at.Sub(w.VC.Now().Add(-w.VC.Elapsed())) }

// SleepUntil sleeps the task until virtual time d.
func (w *World) SleepUntil(tk *loop.Task, d time.Duration) error {
	return tk.Sleep(d - w.VC.Elapsed())
}

// TimedBus logs the time of every transaction on the bus it wraps, for
// playbacks, which know nothing of time.
type TimedBus struct {
	i2c.Bus
	Now func() time.Time

	mu sync.Mutex
	at []time.Time
}

// Tx implements i2c.Bus.
func (b *TimedBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	b.at = append(b.at, b.Now())
	b.mu.Unlock()
	return b.Bus.Tx(addr, w, r)
}

// Times returns the transactions' times, each passed through since (a
// World's Since).
func (b *TimedBus) Times(since func(time.Time) time.Duration) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var d []time.Duration
	for _, at := range b.at {
		d = append(d, since(at))
	}
	return d
}

// ScriptBus answers from fuzz data: each transaction takes a control byte
// (bit 0: fail) and fills its read buffer from the bytes that follow.
type ScriptBus struct {
	mu   sync.Mutex
	Data []byte
}

// String implements i2c.Bus.
func (b *ScriptBus) String() string { return "script" }

// SetSpeed implements i2c.Bus.
func (b *ScriptBus) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (b *ScriptBus) Tx(_ uint16, _, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.Data) == 0 {
		return errors.New("script: end of data")
	}
	ctrl := b.Data[0]
	b.Data = b.Data[1:]
	if ctrl&1 != 0 {
		return errors.New("script: NACK")
	}
	n := copy(r, b.Data)
	b.Data = b.Data[n:]
	return nil
}

// A BusTimer is a simulated bus that can charge its transfers' bus time
// to a loop's virtual clock (the chip simulators' ChargeBusTime).
type BusTimer interface {
	ChargeBusTime(l *loop.Loop, vc *loop.VirtualClock)
}

// ChargeBusTime makes bus's transfers on the World's loop advance its
// virtual clock by their bus time, so that the loop's hog detector sees
// them.
func (w *World) ChargeBusTime(bus BusTimer) { bus.ChargeBusTime(w.L, w.VC) }

// NoHogs checks that nothing a driver does on the loop runs long. scenario
// runs the driver for many virtual seconds on a World with a hog threshold
// whose simulated chip charges its bus time to the virtual clock
// (ChargeBusTime) — inline, and then with offloaded transfers — and
// returns the loop's stats and the number of transactions. NoHogs fails t
// if there were fewer than minOps, or if the loop counted any hog.
//
// Under a virtual clock the loop counts hogs by the virtual time a run
// takes — the bus time inline transfers charged — so the verdict is the
// same on every run: one run per mode, no retry. A loaded machine that
// deschedules the loop's thread is only logged there, never counted.
func NoHogs(t testing.TB, minOps int, scenario func(offload bool) (loop.Stats, int)) {
	t.Helper()
	for _, offload := range []bool{false, true} {
		stats, ops := scenario(offload)
		if ops < minOps {
			t.Fatalf("offload %v: only %d transactions", offload, ops)
		}
		if stats.Hogs > 0 {
			t.Errorf("offload %v: the loop was hogged: %d hogs, longest %v in %s", offload, stats.Hogs, stats.MaxHog, stats.MaxHogTask)
		}
	}
}
