package loop

import (
	"math/bits"
	"time"
)

type counters struct {
	spawned       uint64
	timersFired   uint64
	idleWaits     uint64
	hogs          uint64
	childFailures uint64
	maxHog        int64
	maxHogTask    string
	postLatency   LatencyHistogram
}

// Stats is a snapshot of a loop's activity.
type Stats struct {
	Tasks       int    // tasks alive (started or waiting to start)
	Spawned     uint64 // tasks created since New
	Switches    uint64 // task resumptions and callbacks run
	Timers      int    // pending timers (sleeps, deadlines, CallLater)
	TimersFired uint64 // timers that have fired
	IdleWaits   uint64 // times the loop had nothing to run and waited
	Inbox       int    // posted functions not yet run (Post and inlets)
	Offloads    int    // Offload calls whose result has not reached the loop yet

	ChildFailures uint64 // group children that ended with an error other than a plain cancellation

	// The hog detector samples the loop four times per threshold, so run
	// times are lower bounds with that resolution, and runs shorter than a
	// sampling period do not show. Under a VirtualClock, Hogs, MaxHog and
	// MaxHogTask count virtual time instead (VirtualClock.Advance), exactly
	// and the same on every run; MaxRun is real time always.
	MaxRun     time.Duration // longest run without awaiting seen
	Hogs       uint64        // runs reported as longer than the hog threshold
	MaxHog     time.Duration // the longest of those
	MaxHogTask string        // who ran it ("callback" for a callback)

	PostLatency LatencyHistogram // Post (or Inlet.TryPost) to run of the posted function

	Inlets map[string]InletStats // each inlet's counters, by name; nil without inlets
}

// Stats returns a snapshot of the loop's counters. It is called on the loop
// (from a task or callback), or after Run has returned; other goroutines
// Post a function that calls it.
func (l *Loop) Stats() Stats {
	return Stats{
		Tasks:       l.tasks.n,
		Spawned:     l.stats.spawned,
		Switches:    l.watch.beat.Load(),
		Timers:      len(l.timers),
		TimersFired: l.stats.timersFired,
		IdleWaits:   l.stats.idleWaits,
		Inbox:       l.inbox.depth(),
		Offloads:    l.offloads,

		ChildFailures: l.stats.childFailures,
		MaxRun:        time.Duration(l.watch.maxStall.Load()),
		Hogs:          l.stats.hogs,
		MaxHog:        time.Duration(l.stats.maxHog),
		MaxHogTask:    l.stats.maxHogTask,
		PostLatency:   l.stats.postLatency,
		Inlets:        l.inletStats(),
	}
}

func (l *Loop) inletStats() map[string]InletStats {
	if len(l.inlets) == 0 {
		return nil
	}
	m := make(map[string]InletStats, len(l.inlets))
	for _, in := range l.inlets {
		m[in.name] = in.Stats()
	}
	return m
}

// LatencyHistogram counts durations in power-of-two buckets of
// microseconds: bucket 0 holds < 1 µs, bucket i holds [2^(i-1), 2^i) µs,
// and the last bucket everything longer.
type LatencyHistogram struct {
	Buckets [24]uint64
}

func (h *LatencyHistogram) record(ns int64) {
	us := uint64(max(ns, 0) / 1000)
	i := min(bits.Len64(us), len(h.Buckets)-1)
	h.Buckets[i]++
}

// Count reports how many durations were recorded.
func (h LatencyHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding the q-quantile
// (0 < q ≤ 1): at least a fraction q of the durations were shorter. It
// returns 0 when nothing was recorded.
func (h LatencyHistogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	want := uint64(q*float64(total) + 0.5)
	want = max(want, 1)
	var seen uint64
	for i, c := range h.Buckets {
		seen += c
		if seen >= want {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return time.Duration(uint64(1)<<(len(h.Buckets)-1)) * time.Microsecond
}
