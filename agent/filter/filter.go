// Package filter decides which observations of a device's value are
// published, and when: the publish filters ESPHome users know — on a change
// of at least a delta, at most every T (throttle), at least every T
// (heartbeat), a moving average or median over N observations, rounding to
// N decimals.
//
// A Chain is a plain value: no goroutines, no timers, no clock of its own and
// no dependency on the loop. The caller hands it observations with their
// times (Observe) and calls Tick when the time it asked for (Output.Next)
// has come; the Chain answers with what to publish. So the agent drives it
// from a loop task on the real or the virtual clock, and tests drive it with
// explicit times. Copying a Chain copies its whole state.
//
// The stages always run in this order, whatever order the configuration
// lists them in:
//
//  1. average or median over the last N observations (numbers only);
//  2. round to N decimals (numbers only);
//  3. delta: a value is wanted when nothing has been published yet, or when
//     it differs from the last published value by at least Delta (Delta 0:
//     by anything); without Delta every value is wanted;
//  4. throttle: a wanted value within Throttle of the last publication is
//     held, and the latest held value is published when the window ends
//     (trailing edge), so the final state of a burst is never lost;
//  5. heartbeat: when Heartbeat passes without a publication, the latest
//     value is published again, even if the delta stage held it back.
package filter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Limits of the numeric stages.
const (
	// MaxWindow is the largest N of Average and Median.
	MaxWindow = 64
	// MaxRound is the most decimals Round may ask for.
	MaxRound = 10
)

// Spec is a filter chain's configuration. The zero Spec publishes every
// observation at once.
type Spec struct {
	// Delta, when set, publishes a value only if it differs from the last
	// published one by at least *Delta; 0 means "by anything" (publish on
	// change). A positive delta needs numbers. nil: every value is wanted.
	Delta *float64
	// Throttle publishes at most once per Throttle; a value held back is
	// published when the window ends unless a later value replaced it or
	// the delta stage no longer wants it. 0: off.
	Throttle time.Duration
	// Heartbeat publishes the latest value again when Heartbeat has passed
	// since the last publication. At least Throttle when both are set. 0:
	// off.
	Heartbeat time.Duration
	// Average is N of a moving average over the last N observations (fewer
	// at the start); 0: off. Excludes Median.
	Average int
	// Median is N of a moving median over the last N observations (the mean
	// of the middle two for an even count); 0: off. Excludes Average.
	Median int
	// Round, when set, rounds to *Round decimals (half away from zero).
	Round *int
}

// Problem is one rule a Spec breaks. Key names the configuration key at
// fault (delta, throttle, heartbeat, average, median, round).
type Problem struct {
	// Key is the configuration key at fault.
	Key string
	// Msg says what is wrong.
	Msg string
}

// String formats the problem as "key: message".
func (p Problem) String() string { return p.Key + ": " + p.Msg }

// Check lists every rule s breaks; numeric says whether the values are
// numbers (the numeric stages need them).
func (s Spec) Check(numeric bool) []Problem {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{key, fmt.Sprintf(format, args...)})
	}
	if d := s.Delta; d != nil {
		switch {
		case math.IsNaN(*d) || math.IsInf(*d, 0) || *d < 0:
			add("delta", "%v: must be a number, 0 or more", *d)
		case *d > 0 && !numeric:
			add("delta", "%v: a positive delta needs numeric values; use 0 to publish on change", *d)
		}
	}
	if s.Throttle < 0 {
		add("throttle", "%v is negative", s.Throttle)
	}
	if s.Heartbeat < 0 {
		add("heartbeat", "%v is negative", s.Heartbeat)
	}
	if s.Throttle > 0 && s.Heartbeat > 0 && s.Throttle > s.Heartbeat {
		add("throttle", "%v is longer than heartbeat %v: at most every %v and at least every %v cannot both hold",
			s.Throttle, s.Heartbeat, s.Throttle, s.Heartbeat)
	}
	window := func(key string, n int) {
		switch {
		case n < 0 || n > MaxWindow:
			add(key, "%d: must be 1 to %d observations", n, MaxWindow)
		case n > 0 && !numeric:
			add(key, "needs numeric values")
		}
	}
	window("average", s.Average)
	window("median", s.Median)
	if s.Average != 0 && s.Median != 0 {
		add("median", "average and median exclude each other: choose one")
	}
	if r := s.Round; r != nil {
		switch {
		case *r < 0 || *r > MaxRound:
			add("round", "%d: must be 0 to %d decimals", *r, MaxRound)
		case !numeric:
			add("round", "needs numeric values")
		}
	}
	return ps
}

// Reason says why an Output publishes.
type Reason uint8

// Reasons.
const (
	// None: nothing to publish.
	None Reason = iota
	// Wanted: the observation passed the chain at once.
	Wanted
	// Trailing: a value the throttle held back, published as its window ended.
	Trailing
	// Heartbeat: the latest value again, because Heartbeat passed.
	Heartbeat
)

// String names the reason.
func (r Reason) String() string {
	switch r {
	case None:
		return "none"
	case Wanted:
		return "wanted"
	case Trailing:
		return "trailing"
	case Heartbeat:
		return "heartbeat"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Output is the chain's answer to Observe or Tick.
type Output[T comparable] struct {
	// Publish says whether to publish Value now.
	Publish bool
	// Value is what to publish: the observation after averaging and
	// rounding.
	Value T
	// Observed is when Value was observed (the latest observation that made
	// it), for payloads that carry the observation time; a heartbeat
	// repeats an older observation.
	Observed time.Time
	// Reason says why Publish is true.
	Reason Reason
	// Next is when the chain needs Tick, if nothing is observed before; the
	// zero time when it needs none. It replaces any earlier Next.
	Next time.Time
}

// Chain is a running filter chain over values of type T. Numeric stages
// (a positive Delta, Average, Median, Round) need T to be float64; with
// other types (bool, string …) Delta 0, Throttle and Heartbeat work.
//
// The zero Chain publishes everything; use New for a configured one.
// Times passed to Observe and Tick should not go backwards: an earlier time
// is taken as the latest time seen.
type Chain[T comparable] struct {
	spec      Spec
	delta     float64
	useDelta  bool
	roundPow  float64 // 10^decimals, 0 without rounding
	windowLen int     // N of the average or median, 0 without
	median    bool

	win  [MaxWindow]float64 // ring of the last observations
	wn   int                // observations in win
	wi   int                // next slot of win
	now  time.Time          // latest time seen
	seen bool               // now is set

	have  bool // cur is set
	cur   T    // latest value after averaging and rounding
	curAt time.Time

	pub     bool // something was published
	last    T    // last published value
	lastAt  time.Time
	pending bool // cur is wanted and held by the throttle
}

// New returns a chain configured by s, or the Spec's problems as an error.
func New[T comparable](s Spec) (Chain[T], error) {
	var zero T
	_, numeric := any(zero).(float64)
	if ps := s.Check(numeric); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return Chain[T]{}, fmt.Errorf("filter: %s", strings.Join(msgs, "; "))
	}
	c := Chain[T]{spec: s}
	if s.Delta != nil {
		c.useDelta, c.delta = true, *s.Delta
	}
	if s.Round != nil {
		c.roundPow = math.Pow10(*s.Round)
	}
	switch {
	case s.Average > 0:
		c.windowLen = s.Average
	case s.Median > 0:
		c.windowLen, c.median = s.Median, true
	}
	return c, nil
}

// Spec returns the chain's configuration.
func (c *Chain[T]) Spec() Spec { return c.spec }

// Latest returns the latest value after averaging and rounding, its
// observation time, and whether there was an observation at all.
func (c *Chain[T]) Latest() (T, time.Time, bool) { return c.cur, c.curAt, c.have }

// Next returns when the chain needs Tick, or the zero time.
func (c *Chain[T]) Next() time.Time {
	var next time.Time
	if c.pending {
		next = c.lastAt.Add(c.spec.Throttle)
	}
	if c.spec.Heartbeat > 0 && c.pub {
		if hb := c.lastAt.Add(c.spec.Heartbeat); next.IsZero() || hb.Before(next) {
			next = hb
		}
	}
	return next
}

// clock moves the chain's time to at, never backwards, and returns it.
func (c *Chain[T]) clock(at time.Time) time.Time {
	if c.seen && at.Before(c.now) {
		at = c.now
	}
	c.now, c.seen = at, true
	return at
}

// Observe takes the value v observed at time at and says what to publish.
// Numbers that are not finite (NaN, ±Inf) are ignored: they would poison
// an average and mean nothing to Home Assistant.
func (c *Chain[T]) Observe(at time.Time, v T) Output[T] {
	at = c.clock(at)
	if f, ok := any(v).(float64); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Output[T]{Next: c.Next()}
		}
		f = c.numeric(f)
		v = any(f).(T)
	}
	c.cur, c.curAt, c.have = v, at, true
	if !c.wanted(v) {
		c.pending = false // the held value is stale: the latest one is not wanted
		return Output[T]{Next: c.Next()}
	}
	if c.spec.Throttle > 0 && c.pub && at.Before(c.lastAt.Add(c.spec.Throttle)) {
		c.pending = true
		return Output[T]{Next: c.Next()}
	}
	return c.publish(at, Wanted)
}

// Tick publishes what is due at now: a value the throttle held, or a
// heartbeat. Calling it early or twice is harmless.
func (c *Chain[T]) Tick(now time.Time) Output[T] {
	now = c.clock(now)
	switch {
	case c.pending && !now.Before(c.lastAt.Add(c.spec.Throttle)):
		return c.publish(now, Trailing)
	case c.spec.Heartbeat > 0 && c.pub && !now.Before(c.lastAt.Add(c.spec.Heartbeat)):
		return c.publish(now, Heartbeat)
	}
	return Output[T]{Next: c.Next()}
}

func (c *Chain[T]) publish(at time.Time, why Reason) Output[T] {
	c.pub, c.last, c.lastAt, c.pending = true, c.cur, at, false
	return Output[T]{Publish: true, Value: c.cur, Observed: c.curAt, Reason: why, Next: c.Next()}
}

// numeric runs the average or median and the rounding stage.
func (c *Chain[T]) numeric(f float64) float64 {
	if c.windowLen > 0 {
		c.win[c.wi] = f
		c.wi = (c.wi + 1) % c.windowLen
		if c.wn < c.windowLen {
			c.wn++
		}
		if c.median {
			var buf [MaxWindow]float64
			s := buf[:c.wn]
			copy(s, c.win[:c.wn])
			slices.Sort(s)
			if c.wn%2 == 1 {
				f = s[c.wn/2]
			} else {
				f = (s[c.wn/2-1] + s[c.wn/2]) / 2
			}
		} else {
			sum := 0.0
			for _, x := range c.win[:c.wn] {
				sum += x
			}
			f = sum / float64(c.wn)
		}
	}
	if c.roundPow > 0 {
		f = math.Round(f*c.roundPow) / c.roundPow
	}
	return f
}

// wanted applies the delta stage to v.
func (c *Chain[T]) wanted(v T) bool {
	if !c.pub || !c.useDelta {
		return true
	}
	if c.delta == 0 {
		return v != c.last
	}
	x, _ := any(v).(float64)
	last, _ := any(c.last).(float64)
	// A change of exactly Delta passes even when the decimal values are not
	// exact in binary (21.6 - 21.5 is 0.10000000000000142, 0.3 - 0.2 is
	// 0.09999999999999998).
	return math.Abs(x-last) >= c.delta-1e-9*math.Max(1, c.delta)
}
