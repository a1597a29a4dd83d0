package filter

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

const s = time.Second

// step is one input to a chain and the output expected from it.
type step struct {
	tick bool          // Tick instead of Observe
	at   time.Duration // time of the input
	v    float64       // observed value
	// expected
	pub      bool
	want     float64
	observed time.Duration
	why      Reason
	next     time.Duration // -1: zero time
}

func run(t *testing.T, spec Spec, steps []step) {
	t.Helper()
	c, err := New[float64](spec)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		var out Output[float64]
		if st.tick {
			out = c.Tick(at(st.at))
		} else {
			out = c.Observe(at(st.at), st.v)
		}
		wantNext := time.Time{}
		if st.next >= 0 {
			wantNext = at(st.next)
		}
		if out.Publish != st.pub || !out.Next.Equal(wantNext) {
			t.Fatalf("step %d (%+v): got publish=%v next=%v, want publish=%v next=%v", i, st, out.Publish, out.Next.Sub(t0), st.pub, st.next)
		}
		if !c.Next().Equal(wantNext) {
			t.Fatalf("step %d: Next() = %v, the output said %v", i, c.Next().Sub(t0), st.next)
		}
		if !st.pub {
			if out.Reason != None {
				t.Fatalf("step %d: reason %v without a publication", i, out.Reason)
			}
			continue
		}
		if out.Value != st.want || !out.Observed.Equal(at(st.observed)) || out.Reason != st.why {
			t.Fatalf("step %d: got value %v observed %v reason %v, want %v observed %v reason %v",
				i, out.Value, out.Observed.Sub(t0), out.Reason, st.want, st.observed, st.why)
		}
	}
}

func obs(d time.Duration, v float64) step { return step{at: d, v: v, next: -1} }

func (st step) publishes(v float64, observed time.Duration, why Reason) step {
	st.pub, st.want, st.observed, st.why = true, v, observed, why
	return st
}

func (st step) nextAt(d time.Duration) step { st.next = d; return st }

func tick(d time.Duration) step { return step{tick: true, at: d, next: -1} }

func TestZeroSpecPublishesEverything(t *testing.T) {
	run(t, Spec{}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 1).publishes(1, 1*s, Wanted),
		obs(1*s, 2).publishes(2, 1*s, Wanted),
		tick(5 * s),
	})
	var c Chain[string] // the zero Chain works too
	if out := c.Observe(t0, "x"); !out.Publish || out.Value != "x" {
		t.Fatalf("zero chain: %+v", out)
	}
}

func TestDelta(t *testing.T) {
	run(t, Spec{Delta: ptr(0.1)}, []step{
		obs(0, 21.5).publishes(21.5, 0, Wanted), // the first value always goes
		obs(1*s, 21.55),
		obs(2*s, 21.45),
		obs(3*s, 21.6).publishes(21.6, 3*s, Wanted), // exactly delta: 21.6-21.5 is not exactly 0.1
		obs(4*s, 21.5).publishes(21.5, 4*s, Wanted), // downwards too
		obs(5*s, 21.41),
	})
	// 0.3 - 0.2 is 0.09999999999999998 in binary: still a change of 0.1.
	run(t, Spec{Delta: ptr(0.1)}, []step{
		obs(0, 0.2).publishes(0.2, 0, Wanted),
		obs(1*s, 0.3).publishes(0.3, 1*s, Wanted),
	})
}

func TestDeltaZeroIsOnChange(t *testing.T) {
	run(t, Spec{Delta: ptr(0.0)}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 1),
		obs(2*s, 1.0000001).publishes(1.0000001, 2*s, Wanted),
	})
	c, err := New[bool](Spec{Delta: ptr(0.0)})
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for i, v := range []bool{true, true, false, false, true} {
		if out := c.Observe(at(time.Duration(i)*s), v); out.Publish {
			got = append(got, out.Value)
		}
	}
	if want := []bool{true, false, true}; !slices.Equal(got, want) {
		t.Fatalf("bool on change: got %v, want %v", got, want)
	}
}

func TestThrottlePublishesTheLatestHeldValueWhenTheWindowEnds(t *testing.T) {
	run(t, Spec{Throttle: 10 * s}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 2).nextAt(10 * s),
		obs(2*s, 3).nextAt(10 * s), // replaces 2
		tick(9 * s).nextAt(10 * s), // early: nothing
		tick(10*s).publishes(3, 2*s, Trailing),
		tick(11 * s), // nothing pending any more
		obs(12*s, 4).nextAt(20 * s),
		tick(25*s).publishes(4, 12*s, Trailing), // a late tick still publishes, at its own time
		obs(36*s, 5).publishes(5, 36*s, Wanted), // 11 s after the trailing publication: at once
	})
}

func TestThrottleDropsAHeldValueTheDeltaNoLongerWants(t *testing.T) {
	run(t, Spec{Throttle: 10 * s, Delta: ptr(0.5)}, []step{
		obs(0, 20).publishes(20, 0, Wanted),
		obs(1*s, 21).nextAt(10 * s), // wanted, held
		obs(2*s, 20.2),              // back near the published value: nothing to publish after all
		tick(10 * s),
		obs(11*s, 19).publishes(19, 11*s, Wanted),
	})
}

func TestHeartbeat(t *testing.T) {
	run(t, Spec{Heartbeat: time.Minute, Delta: ptr(1.0)}, []step{
		obs(0, 20).publishes(20, 0, Wanted).nextAt(60 * s),
		tick(30 * s).nextAt(60 * s),
		obs(40*s, 20.4).nextAt(60 * s),                              // held back by the delta
		tick(60*s).publishes(20.4, 40*s, Heartbeat).nextAt(120 * s), // the latest value, with its observation time
		obs(70*s, 21.4).publishes(21.4, 70*s, Wanted).nextAt(130 * s),
		tick(130*s).publishes(21.4, 70*s, Heartbeat).nextAt(190 * s),
	})
}

func TestHeartbeatWithoutAnyObservationSchedulesNothing(t *testing.T) {
	c, err := New[float64](Spec{Heartbeat: s})
	if err != nil {
		t.Fatal(err)
	}
	if out := c.Tick(at(time.Hour)); out.Publish || !out.Next.IsZero() {
		t.Fatalf("tick before any observation: %+v", out)
	}
	if _, _, ok := c.Latest(); ok {
		t.Fatal("Latest reports a value before any observation")
	}
	c.Observe(at(2*time.Hour), 7)
	if v, when, ok := c.Latest(); !ok || v != 7 || !when.Equal(at(2*time.Hour)) {
		t.Fatalf("Latest = %v %v %v", v, when, ok)
	}
	if c.Spec() != (Spec{Heartbeat: s}) {
		t.Fatalf("Spec = %+v", c.Spec())
	}
}

func TestThrottleAndHeartbeat(t *testing.T) {
	run(t, Spec{Throttle: 5 * s, Heartbeat: 20 * s}, []step{
		obs(0, 1).publishes(1, 0, Wanted).nextAt(20 * s),
		obs(1*s, 2).nextAt(5 * s), // the throttle comes before the heartbeat
		tick(5*s).publishes(2, 1*s, Trailing).nextAt(25 * s),
		tick(25*s).publishes(2, 1*s, Heartbeat).nextAt(45 * s),
	})
}

func TestAverage(t *testing.T) {
	run(t, Spec{Average: 3}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 2).publishes(1.5, 1*s, Wanted),
		obs(2*s, 3).publishes(2, 2*s, Wanted),
		obs(3*s, 4).publishes(3, 3*s, Wanted), // 1 left the window
		obs(4*s, 8).publishes(5, 4*s, Wanted),
	})
}

func TestMedian(t *testing.T) {
	run(t, Spec{Median: 3}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 100).publishes(50.5, 1*s, Wanted), // even count: mean of the middle two
		obs(2*s, 2).publishes(2, 2*s, Wanted),      // the spike is gone
		obs(3*s, 3).publishes(3, 3*s, Wanted),      // window 100, 2, 3
		obs(4*s, 4).publishes(3, 4*s, Wanted),      // window 2, 3, 4
	})
}

func TestWindowOfMaxSize(t *testing.T) {
	c, err := New[float64](Spec{Average: MaxWindow})
	if err != nil {
		t.Fatal(err)
	}
	var out Output[float64]
	for i := range 3 * MaxWindow {
		out = c.Observe(at(time.Duration(i)*s), float64(i))
	}
	// The last MaxWindow values are 2N..3N-1: their mean is 2N + (N-1)/2.
	if want := 2*MaxWindow + float64(MaxWindow-1)/2; out.Value != want {
		t.Fatalf("average = %v, want %v", out.Value, want)
	}
}

func TestRound(t *testing.T) {
	run(t, Spec{Round: ptr(1)}, []step{
		obs(0, 21.456).publishes(21.5, 0, Wanted),
		obs(1*s, -0.04).publishes(0, 1*s, Wanted), // -0.0 == 0
	})
	run(t, Spec{Round: ptr(0)}, []step{
		obs(0, 2.5).publishes(3, 0, Wanted), // half away from zero
		obs(1*s, -2.5).publishes(-3, 1*s, Wanted),
	})
	// Rounding runs before the delta: 21.44 and 21.36 both round to 21.4.
	run(t, Spec{Round: ptr(1), Delta: ptr(0.0)}, []step{
		obs(0, 21.44).publishes(21.4, 0, Wanted),
		obs(1*s, 21.36),
		obs(2*s, 21.46).publishes(21.5, 2*s, Wanted),
	})
	// Averaging runs before rounding.
	run(t, Spec{Average: 2, Round: ptr(0)}, []step{
		obs(0, 1).publishes(1, 0, Wanted),
		obs(1*s, 2).publishes(2, 1*s, Wanted), // 1.5 rounds up
	})
}

func TestNonFiniteValuesAreIgnored(t *testing.T) {
	run(t, Spec{Average: 2, Heartbeat: 10 * s}, []step{
		obs(0, 4).publishes(4, 0, Wanted).nextAt(10 * s),
		obs(1*s, math.NaN()).nextAt(10 * s),
		obs(2*s, math.Inf(1)).nextAt(10 * s),
		obs(3*s, 6).publishes(5, 3*s, Wanted).nextAt(13 * s), // the window holds 4 and 6 only
	})
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	run(t, Spec{Throttle: 10 * s}, []step{
		obs(20*s, 1).publishes(1, 20*s, Wanted),
		obs(5*s, 2).nextAt(30 * s), // taken as 20 s: inside the window
		tick(0).nextAt(30 * s),     // taken as 20 s: not due
		tick(30*s).publishes(2, 20*s, Trailing),
	})
}

func TestCopiesAreIndependent(t *testing.T) {
	a, err := New[float64](Spec{Average: 2, Throttle: 10 * s})
	if err != nil {
		t.Fatal(err)
	}
	a.Observe(t0, 10)
	b := a
	a.Observe(at(1*s), 20) // held in a
	if out := b.Tick(at(10 * s)); out.Publish {
		t.Fatalf("the copy published a value held by the original: %+v", out)
	}
	if out := b.Observe(at(11*s), 30); !out.Publish || out.Value != 20 { // window 10, 30
		t.Fatalf("copy: %+v, want 20", out)
	}
	if out := a.Tick(at(10 * s)); !out.Publish || out.Value != 15 { // window 10, 20
		t.Fatalf("original: %+v, want 15", out)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		spec    Spec
		numeric bool
		want    []string
	}{
		{Spec{}, false, nil},
		{Spec{Delta: ptr(0.5), Throttle: s, Heartbeat: s, Median: 5, Round: ptr(2)}, true, nil},
		{Spec{Delta: ptr(-1.0)}, true, []string{"delta: -1: must be a number, 0 or more"}},
		{Spec{Delta: ptr(math.NaN())}, true, []string{"delta: NaN: must be a number, 0 or more"}},
		{Spec{Delta: ptr(0.5)}, false, []string{"delta: 0.5: a positive delta needs numeric values; use 0 to publish on change"}},
		{Spec{Delta: ptr(0.0), Throttle: s, Heartbeat: 2 * s}, false, nil},
		{Spec{Throttle: -s, Heartbeat: -s}, true, []string{"throttle: -1s is negative", "heartbeat: -1s is negative"}},
		{Spec{Throttle: time.Minute, Heartbeat: 30 * s}, true,
			[]string{"throttle: 1m0s is longer than heartbeat 30s: at most every 1m0s and at least every 30s cannot both hold"}},
		{Spec{Average: 3, Median: 3}, true, []string{"median: average and median exclude each other: choose one"}},
		{Spec{Average: MaxWindow + 1}, true, []string{"average: 65: must be 1 to 64 observations"}},
		{Spec{Median: -1}, true, []string{"median: -1: must be 1 to 64 observations"}},
		{Spec{Average: 2}, false, []string{"average: needs numeric values"}},
		{Spec{Round: ptr(11)}, true, []string{"round: 11: must be 0 to 10 decimals"}},
		{Spec{Round: ptr(1)}, false, []string{"round: needs numeric values"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range tt.spec.Check(tt.numeric) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Check(%+v, numeric=%v):\n got %q\nwant %q", tt.spec, tt.numeric, got, tt.want)
		}
	}
}

func TestNewRefusesWhatTheTypeCannotDo(t *testing.T) {
	if _, err := New[string](Spec{Average: 3, Round: ptr(1)}); err == nil ||
		!strings.Contains(err.Error(), "average: needs numeric values; round: needs numeric values") {
		t.Fatalf("New[string] with numeric stages: %v", err)
	}
	if _, err := New[float64](Spec{Average: 3, Round: ptr(1)}); err != nil {
		t.Fatal(err)
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{None: "none", Wanted: "wanted", Trailing: "trailing", Heartbeat: "heartbeat", 9: "Reason(9)"} {
		if r.String() != want {
			t.Errorf("%d: %q", r, r.String())
		}
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	c, err := New[float64](Spec{Median: MaxWindow, Round: ptr(2), Delta: ptr(0.1), Throttle: s, Heartbeat: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		c.Observe(at(time.Duration(i)*100*time.Millisecond), float64(i%17))
		c.Tick(at(time.Duration(i) * 100 * time.Millisecond))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per observation", allocs)
	}
}

// TestProperties drives random chains with random observations, ticking
// whenever the chain asks, and checks the promises of the package comment.
func TestProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		spec := Spec{
			Throttle:  time.Duration(rapid.IntRange(0, 5).Draw(rt, "throttle")) * s,
			Heartbeat: time.Duration(rapid.IntRange(0, 20).Draw(rt, "heartbeat")) * s,
		}
		if spec.Heartbeat > 0 && spec.Heartbeat < spec.Throttle {
			spec.Heartbeat = spec.Throttle
		}
		if rapid.Bool().Draw(rt, "useDelta") {
			spec.Delta = ptr(float64(rapid.IntRange(0, 3).Draw(rt, "delta")))
		}
		c, err := New[float64](spec)
		if err != nil {
			rt.Fatal(err)
		}
		var (
			now     time.Duration
			pubs    []time.Duration
			lastPub = math.NaN()
			latest  float64
		)
		record := func(o Output[float64], when time.Duration) {
			if !o.Publish {
				return
			}
			if n := len(pubs); n > 0 && spec.Throttle > 0 && when-pubs[n-1] < spec.Throttle {
				rt.Fatalf("publications at %v and %v: closer than the throttle %v", pubs[n-1], when, spec.Throttle)
			}
			if o.Value != latest {
				rt.Fatalf("published %v at %v, but the latest observation is %v", o.Value, when, latest)
			}
			pubs = append(pubs, when)
			lastPub = o.Value
		}
		// advance ticks the chain at every Next up to until (the clock of the
		// observations, now, moves only with them).
		advance := func(until time.Duration) {
			for {
				next := c.Next()
				if next.IsZero() || next.Sub(t0) > until {
					return
				}
				record(c.Tick(next), next.Sub(t0))
			}
		}
		for _, o := range rapid.SliceOfN(rapid.IntRange(0, 6), 1, 40).Draw(rt, "values") {
			gap := time.Duration(rapid.IntRange(0, 8).Draw(rt, "gap")) * s
			advance(now + gap)
			now += gap
			latest = float64(o)
			record(c.Observe(at(now), latest), now)
		}
		// Once the chain has nothing left to do (or only heartbeats), the
		// latest value is published, or close enough to the published one
		// that the delta holds it back.
		advance(now + spec.Throttle)
		if !(lastPub == latest || spec.Delta != nil && math.Abs(latest-lastPub) < *spec.Delta) {
			rt.Fatalf("settled on %v, latest observation %v (delta %v)", lastPub, latest, spec.Delta)
		}
		// With a heartbeat, no gap between publications exceeds it.
		if spec.Heartbeat > 0 {
			advance(now + 3*spec.Heartbeat)
			for i := 1; i < len(pubs); i++ {
				if pubs[i]-pubs[i-1] > spec.Heartbeat {
					rt.Fatalf("publications at %v and %v: the heartbeat %v was missed", pubs[i-1], pubs[i], spec.Heartbeat)
				}
			}
		}
	})
}
