package backoff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

func TestDelayBounds(t *testing.T) {
	s := Default()
	for n, want := range []time.Duration{500, 1000, 2000, 4000, 4000, 4000} {
		want *= time.Millisecond
		lo, hi := s.Delay(n, time.Minute, 0), s.Delay(n, time.Minute, 0.999999)
		if lo != want/2 || hi < want*99/100 || hi > want {
			t.Errorf("round %d: delays %v…%v, want %v…%v", n, lo, hi, want/2, want)
		}
	}
	// Past the patience the delays grow on to the slow cap.
	for n, want := range map[int]time.Duration{4: 8 * time.Second, 5: 16 * time.Second, 7: time.Minute, 5000: time.Minute} {
		if hi := s.Delay(n, 11*time.Minute, 0.999999); hi > want || hi < want*99/100 {
			t.Errorf("slow round %d: %v, want about %v", n, hi, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, bad := range []Schedule{
		{Min: 0, Max: time.Second, SlowMax: time.Second},
		{Min: 2 * time.Second, Max: time.Second, SlowMax: time.Second},
		{Min: time.Second, Max: time.Second, Patience: -1, SlowMax: time.Second},
		{Min: time.Second, Max: 2 * time.Second, SlowMax: time.Second},
	} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := Default().Check(); err != nil {
		t.Error(err)
	}
}

// A node that lost its broker at time 0 retries on the schedule; the broker
// comes back after an outage of a given length. On virtual time, one task
// per (outage, node) follows the schedule exactly as the bridge's connection
// task does, and reports how long after the broker's return its next
// attempt came. For outages up to ten minutes that is under 5 s at the 95th
// percentile (the goal) and never more than Max; the first attempts after
// the return are spread, not in lockstep.
func TestReturnAfterOutageOnVirtualTime(t *testing.T) {
	s := Default()
	const nodes = 8
	var outages []time.Duration
	for l := time.Second; l <= s.Patience; l += 20 * time.Second {
		outages = append(outages, l)
	}
	outages = append(outages, s.Patience)
	rng := rand.New(rand.NewPCG(1, 2))
	ret := make([][]time.Duration, len(outages)) // per outage, per node
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		for i, outage := range outages {
			ret[i] = make([]time.Duration, nodes)
			for k := range nodes {
				r := rng.Float64 // each task draws in turn; the loop runs one at a time
				g.Go(fmt.Sprintf("outage %v node %d", outage, k), func(tk *loop.Task) error {
					start := tk.Loop().Now()
					for round := 0; ; round++ {
						// An attempt: refused while the broker is away.
						elapsed := tk.Loop().Now().Sub(start)
						if elapsed >= outage {
							ret[i][k] = elapsed - outage
							return nil
						}
						if err := tk.Sleep(s.Delay(round, elapsed, r())); err != nil {
							return err
						}
					}
				})
			}
		}
		return g.Wait(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []time.Duration
	for i := range outages {
		all = append(all, ret[i]...)
	}
	slices.Sort(all)
	p50, p95, worst := all[len(all)/2], all[len(all)*95/100], all[len(all)-1]
	t.Logf("back after the broker: p50 %v, p95 %v, max %v over %d outages of 1 s … 10 min", p50.Round(time.Millisecond), p95.Round(time.Millisecond), worst.Round(time.Millisecond), len(all))
	if p95 > 5*time.Second {
		t.Errorf("p95 %v after the broker's return, want ≤ 5 s", p95)
	}
	if worst > s.WorstReturn() {
		t.Errorf("worst %v, want ≤ %v", worst, s.WorstReturn())
	}
	// Jitter: the nodes that lost the broker together do not come back at
	// one instant.
	for i, rs := range ret {
		if outages[i] < 10*time.Second {
			continue // the first rounds are short: little room to spread
		}
		distinct := map[time.Duration]bool{}
		for _, r := range rs {
			distinct[r.Round(10*time.Millisecond)] = true
		}
		if len(distinct) < nodes/2 {
			t.Errorf("outage %v: %d nodes returned at only %d distinct times", outages[i], nodes, len(distinct))
		}
	}
}

// The schedule of one node through a 20-minute outage, printed: fast
// retries up to the 10-minute mark, then slower ones.
func TestScheduleShape(t *testing.T) {
	s := Default()
	var at time.Duration
	var gaps []time.Duration
	for n := 0; at < 20*time.Minute; n++ {
		d := s.Delay(n, at, 0.5)
		gaps = append(gaps, d)
		at += d
	}
	if gaps[0] != 375*time.Millisecond || gaps[3] != 3*time.Second {
		t.Errorf("first gaps %v", gaps[:4])
	}
	fast, slow := 0, 0
	at = 0
	for _, g := range gaps {
		if at < s.Patience {
			fast++
			if g > s.Max {
				t.Errorf("gap %v at %v, before the patience ran out", g, at)
			}
		} else {
			slow++
		}
		at += g
	}
	if last := gaps[len(gaps)-1]; last != 45*time.Second {
		t.Errorf("last gap %v, want 45 s (the middle of the slow cap's upper half)", last)
	}
	t.Logf("attempts in a 20 min outage: %d in the first 10 min, %d after", fast, slow)
}
