package loop

import (
	"sync/atomic"
	"time"
)

// A Clock is the loop's source of time: the real monotonic clock, or a
// virtual one for tests. Build one with RealClock or NewVirtualClock.
type Clock interface {
	// Now reports the clock's current time. It is safe from any goroutine.
	Now() time.Time

	// elapsed reports the time since the clock's start, in nanoseconds.
	elapsed() int64
}

// RealClock returns the wall clock, read through Go's monotonic clock so
// timers are immune to wall-clock steps (NTP, manual changes).
func RealClock() Clock { return &realClock{start: time.Now()} }

type realClock struct{ start time.Time }

func (c *realClock) Now() time.Time { return time.Now() }
func (c *realClock) elapsed() int64 { return int64(time.Since(c.start)) }

// A VirtualClock stands still while any task can run, and jumps straight to
// the next timer's deadline when every task is waiting and no Post or Offload
// is outstanding. A test of a two-second long-press or a thirty-second outage
// therefore runs in microseconds and the same way every time.
//
// A VirtualClock belongs to one Loop.
type VirtualClock struct {
	start time.Time
	now   atomic.Int64
}

// VirtualEpoch is where NewVirtualClock starts: 2000-01-01 00:00:00 UTC, a
// fixed instant so that timestamps in tests are reproducible.
func VirtualEpoch() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// NewVirtualClock returns a virtual clock reading VirtualEpoch.
func NewVirtualClock() *VirtualClock { return &VirtualClock{start: VirtualEpoch()} }

// NewVirtualClockAt returns a virtual clock reading start, for tests that
// need a particular date. A zero start panics: it is almost always a
// forgotten value, and NewVirtualClock says what it means.
func NewVirtualClockAt(start time.Time) *VirtualClock {
	if start.IsZero() {
		panic("loop: NewVirtualClockAt with a zero time; use NewVirtualClock for the fixed epoch")
	}
	return &VirtualClock{start: start}
}

// Start returns the time the clock started at: VirtualEpoch, or the time
// given to NewVirtualClockAt. Now is Start plus Elapsed. It is safe from
// any goroutine.
func (c *VirtualClock) Start() time.Time { return c.start }

// Since reports the virtual time elapsed from the clock's start to at, a
// time read from the clock (a reading's timestamp, a Deadline). It is safe
// from any goroutine.
func (c *VirtualClock) Since(at time.Time) time.Duration { return at.Sub(c.start) }

// Now reports the virtual time. It is safe from any goroutine.
func (c *VirtualClock) Now() time.Time { return c.start.Add(time.Duration(c.now.Load())) }

// Elapsed reports how much virtual time has passed since the clock's start.
func (c *VirtualClock) Elapsed() time.Duration { return time.Duration(c.now.Load()) }

func (c *VirtualClock) elapsed() int64 { return c.now.Load() }

// Advance moves the clock forward by d at once, as if the code calling it
// had taken d: for simulated hardware whose operations take time (a slow
// bus transfer, a conversion the bus is held for). Called on the loop, in a
// task or callback, the time counts as that run's for the hog detector,
// which under a virtual clock measures virtual time, so a driver doing slow
// work inline is reported the same way on every run. Timers that come due
// fire on the loop's next pass. It is safe from any goroutine, but time
// advanced off the loop is counted against whatever the loop runs then.
func (c *VirtualClock) Advance(d time.Duration) {
	if d > 0 {
		c.now.Add(int64(d))
	}
}

// advanceTo moves the clock forward to the elapsed time to; it never moves
// back. Only the clock's loop calls it.
func (c *VirtualClock) advanceTo(to int64) {
	for now := c.now.Load(); to > now && !c.now.CompareAndSwap(now, to); now = c.now.Load() {
	}
}
