package clients

import (
	"fmt"
	"slices"
	"time"
)

// Latency summarises round-trip times for the figures tests print.
type Latency struct {
	N             int
	P50, P90, P99 time.Duration
	Min, Max      time.Duration
}

// Summarize computes the nearest-rank percentiles of ds.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank: the smallest value with at least permille/1000 of the
	// values at or below it (integer arithmetic: no float rounding).
	rank := func(permille int) time.Duration {
		i := (permille*len(s)+999)/1000 - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Latency{N: len(s), P50: rank(500), P90: rank(900), P99: rank(990), Min: s[0], Max: s[len(s)-1]}
}

// String renders "n=200 p50=44.1ms p90=… p99=… min=… max=…".
func (l Latency) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v min=%v max=%v", l.N, r(l.P50), r(l.P90), r(l.P99), r(l.Min), r(l.Max))
}
