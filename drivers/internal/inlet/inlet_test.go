package inlet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/internal/inlet"
	"github.com/edgeagent/edgeagent/loop"
)

// Inlets of the same name on one loop get distinct names, and their
// refusals show in the loop's Stats under them.
func TestUniqueNames(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var names []string
	var stats loop.Stats
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		a, b, c := inlet.New(l, "gpioin sim:b", 1), inlet.New(l, "gpioin sim:b", 1), inlet.New(l, "uart", 1)
		names = []string{a.Name(), b.Name(), c.Name()}
		if err := a.TryPost(func() {}); err != nil {
			return err
		}
		if err := a.TryPost(func() {}); err != inlet.ErrFull {
			t.Errorf("second post into a full inlet: %v", err)
		}
		stats = tk.Loop().Stats()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, "|"); got != "gpioin sim:b|gpioin sim:b #2|uart" {
		t.Errorf("names %s, want gpioin sim:b|gpioin sim:b #2|uart", got)
	}
	if st := stats.Inlets["gpioin sim:b"]; st.Dropped != 1 || st.Posted != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A batch costs one post however many items gather before the loop runs
// it; what the adder drops is counted per batch and in all. A batch that
// finds the inlet full waits for Retry.
func TestBatch(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var drains []string
	var dropped uint64
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		in := inlet.New(l, "batch", 1)
		b := inlet.NewBatch(in, func(items []int, lost uint64) {
			drains = append(drains, fmt.Sprintf("%v+%d", items, lost))
		})
		add := func(v int) {
			b.Add(func(items []int, lost uint64) ([]int, uint64) {
				if len(items) == 2 {
					return items, lost + 1
				}
				return append(items, v), lost
			})
		}
		for v := range 4 { // the loop is held: one drain, two items, two lost
			add(v)
		}
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := in.TryPost(func() {}); err != nil { // the inlet's one place
			return err
		}
		add(9)                             // finds it full
		b.Retry()                          // still full
		if err := tk.Yield(); err != nil { // the place frees
			return err
		}
		b.Retry()
		if err := tk.Yield(); err != nil {
			return err
		}
		dropped = b.Dropped()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[[0 1]+2 [9]+0]"; fmt.Sprint(drains) != want || dropped != 2 {
		t.Errorf("drains %v, dropped %d; want %s, 2", drains, dropped, want)
	}
}
