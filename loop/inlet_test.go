package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Eight goroutines flood an inlet while the loop is held by a task that
// does not await (a hog, a slow disk): the inlet never holds more than its
// limit, every refusal is counted, and what they also Post — the unbounded
// entry, for what must not be lost — all runs, in order per goroutine.
func TestInletBoundsAFloodWhileTheLoopIsHeld(t *testing.T) {
	const goroutines, attempts, limit = 8, 500, 64
	l := New(WithHogThreshold(0), WithLogger(slog.New(slog.DiscardHandler)))
	in := l.NewInlet("edges", limit)
	var ran, posted atomic.Int64 // inlet functions run; Post functions run
	var overLimit atomic.Int64   // a queue depth seen above the limit
	var outOfOrder int
	next := make([]int, goroutines)
	var refused, closed atomic.Int64
	var floods sync.WaitGroup
	err := l.Run(context.Background(), func(t *Task) error {
		holder := l.Go("holder", func(t *Task) error {
			for g := range goroutines {
				floods.Add(1)
				go func() {
					defer floods.Done()
					for i := range attempts {
						switch err := in.TryPost(func() { ran.Add(1) }); {
						case errors.Is(err, ErrInletFull):
							refused.Add(1)
						case err != nil:
							closed.Add(1)
						}
						if q := in.Stats().Queued; q > limit {
							overLimit.Store(int64(q))
						}
						if err := l.Post(func() {
							if next[g] != i {
								outOfOrder++
							}
							next[g] = i + 1
							posted.Add(1)
						}); err != nil {
							closed.Add(1)
						}
					}
				}()
			}
			floods.Wait() //loopvet:ok holds the loop on purpose: the stall under test
			return nil
		})
		return holder.Wait(t)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := in.Stats()
	if overLimit.Load() != 0 || s.MaxQueued != limit || s.Queued != 0 {
		t.Errorf("queue depth seen %d, high-water %d, left %d; want ≤ %d, %d, 0",
			overLimit.Load(), s.MaxQueued, s.Queued, limit, limit)
	}
	if s.Posted != limit || ran.Load() != limit || s.Dropped != goroutines*attempts-limit ||
		refused.Load() != int64(s.Dropped) || closed.Load() != 0 {
		t.Errorf("stats %+v, ran %d, refused %d, closed %d; want %d admitted and run, the rest dropped and counted",
			s, ran.Load(), refused.Load(), closed.Load(), limit)
	}
	if posted.Load() != goroutines*attempts || outOfOrder != 0 {
		t.Errorf("Post: %d of %d ran, %d out of order", posted.Load(), goroutines*attempts, outOfOrder)
	}
	if got := l.Stats().Inlets["edges"]; got != s {
		t.Errorf("l.Stats().Inlets[edges] = %+v, want %+v", got, s)
	}
}

// Once the held loop drains an inlet, its places are free again; TryPost
// after the loop stopped returns ErrClosed and is not counted as a drop.
func TestInletPlacesComeBack(t *testing.T) {
	l, _, _ := virtualLoop()
	in := l.NewInlet("rx", 2)
	var got []string
	if err := in.TryPost(func() { got = append(got, "before Run") }); err != nil {
		t.Fatal(err)
	}
	run(t, l, func(t *Task) error {
		for round := range 3 {
			for i := range 3 {
				err := in.TryPost(func() { got = append(got, fmt.Sprintf("%d.%d", round, i)) })
				if want := i == 2; errors.Is(err, ErrInletFull) != want {
					return fmt.Errorf("round %d post %d: %v", round, i, err)
				}
			}
			if err := t.Yield(); err != nil { // the posts run
				return err
			}
		}
		return nil
	})
	if strings.Join(got, " ") != "before Run 0.0 0.1 1.0 1.1 2.0 2.1" {
		t.Fatalf("ran %v", got)
	}
	if err := in.TryPost(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryPost after stop = %v, want ErrClosed", err)
	}
	if s := in.Stats(); s.Posted != 7 || s.Dropped != 3 || s.Queued != 0 || s.MaxQueued != 2 || s.Limit != 2 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.HasPrefix(ErrInletFull.Error(), "loop: ") {
		t.Fatalf("ErrInletFull = %q, want the package prefix", ErrInletFull)
	}
}

func TestNewInletMisuse(t *testing.T) {
	l, _, _ := virtualLoop()
	l.NewInlet("a", 1)
	if msg := mustPanic(t, func() { l.NewInlet("a", 1) }); !strings.Contains(msg, `"a" exists`) {
		t.Fatalf("duplicate name: %q", msg)
	}
	if msg := mustPanic(t, func() { l.NewInlet("b", 0) }); !strings.Contains(msg, "at least 1") {
		t.Fatalf("zero limit: %q", msg)
	}
}
