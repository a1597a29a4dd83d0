// Package backoff is the bridge's reconnection schedule: how long to wait
// before the next round of connection attempts, given how long the broker
// has been away.
//
// A broker that restarts is usually back within seconds to minutes, and the
// time a node takes to notice that is the delay it happens to be sleeping
// when the broker returns. So the delays grow quickly only to a short cap
// (Max) and stay there while the outage is young (Patience): any outage up
// to Patience ends for the node at most Max after the broker's return. Past
// Patience the broker is probably down for good, and the delays keep
// doubling to SlowMax so that a fleet does not hammer a dead address. Each
// delay is drawn from the upper half of its nominal value, so nodes that
// lost the broker together spread their attempts instead of reconnecting in
// lockstep.
//
// The package is pure (the caller passes the random number), which is what
// lets the schedule be checked on virtual time.
package backoff

import (
	"fmt"
	"math"
	"time"
)

// Defaults of the schedule.
const (
	DefaultMin      = 500 * time.Millisecond
	DefaultMax      = 4 * time.Second
	DefaultPatience = 10 * time.Minute
	DefaultSlowMax  = time.Minute
)

// Schedule says how long to wait between rounds of connection attempts.
type Schedule struct {
	// Min is the nominal delay after the first failed round.
	Min time.Duration
	// Max caps the nominal delay while the outage is younger than
	// Patience.
	Max time.Duration
	// Patience is how long an outage may last before the delays grow
	// past Max.
	Patience time.Duration
	// SlowMax caps the nominal delay once the outage is older than
	// Patience; at least Max.
	SlowMax time.Duration
}

// Default returns the default schedule: 0.5 s doubling to 4 s for the first
// ten minutes of an outage, then on to 1 min.
func Default() Schedule {
	return Schedule{Min: DefaultMin, Max: DefaultMax, Patience: DefaultPatience, SlowMax: DefaultSlowMax}
}

// Check reports what is wrong with s, if anything.
func (s Schedule) Check() error {
	switch {
	case s.Min <= 0 || s.Max < s.Min:
		return fmt.Errorf("need 0 < min ≤ max, got min %v, max %v", s.Min, s.Max)
	case s.Patience < 0:
		return fmt.Errorf("patience %v is negative", s.Patience)
	case s.SlowMax < s.Max:
		return fmt.Errorf("the slow phase's maximum %v is below the fast one's %v", s.SlowMax, s.Max)
	}
	return nil
}

// Delay returns how long to wait after failed round n (0 for the first)
// of an outage that has lasted outage so far; r is uniform in [0, 1). The
// nominal delay is Min doubled n times, capped by Max (or SlowMax once the
// outage is older than Patience); the delay is drawn from its upper half.
func (s Schedule) Delay(n int, outage time.Duration, r float64) time.Duration {
	limit := s.Max
	if outage >= s.Patience {
		limit = s.SlowMax
	}
	d := float64(s.Min) * math.Pow(2, float64(n))
	if d > float64(limit) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(limit)
	}
	return time.Duration(d/2 + r*d/2)
}

// WorstReturn is the longest a node following s takes to try again after
// the broker returns from an outage no longer than Patience: the nominal
// cap of the fast phase.
func (s Schedule) WorstReturn() time.Duration { return s.Max }
