package inlet_test

import (
	"context"
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
