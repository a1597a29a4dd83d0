package inlet_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/internal/inlet"
	"github.com/edgeagent/edgeagent/loop"
)

// While the loop is held, at most limit posts wait and the rest are
// refused and counted, from any number of goroutines; once the loop runs
// them, there is room again. After the loop has stopped, TryPost says so.
func TestBoundAndCount(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	in := inlet.New(l, "test", 3)
	ran := 0
	var results [8][2]error
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		// The loop runs nothing else until this task awaits: it is held.
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[g][0] = in.TryPost(func() { ran++ })
			}()
		}
		wg.Wait()
		if err := tk.Yield(); err != nil { // the posts run
			return err
		}
		results[0][1] = in.TryPost(func() { ran++ })
		return tk.Yield()
	})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, r := range results {
		if r[0] == nil {
			accepted++
		} else if !errors.Is(r[0], inlet.ErrFull) {
			t.Errorf("TryPost: %v", r[0])
		}
	}
	if accepted != 3 || in.Dropped() != 5 || results[0][1] != nil || ran != 4 || in.Name() != "test" {
		t.Errorf("accepted %d, dropped %d, after the drain %v, ran %d; want 3, 5, nil, 4", accepted, in.Dropped(), results[0][1], ran)
	}
	if err := in.TryPost(func() {}); !errors.Is(err, loop.ErrClosed) {
		t.Errorf("after the loop stopped: %v", err)
	}
}
