package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/drivers/uart/uarttest"
	"github.com/edgeagent/edgeagent/loop"
)

// A 45 KB burst of lines is taken in bounded batches: each line charges
// the virtual clock what taking it costs on a slow board (2.2 µs a byte,
// measured: the burst took 99 ms in one turn), and the loop's hog
// detector, counting virtual time, sees no run of 10 ms or more. The same
// burst taken without a bound is one hog of about 99 ms: the check fails
// on an unbounded turn.
func TestUARTLinesBurstIsBatched(t *testing.T) {
	var burst strings.Builder
	var want int
	for burst.Len() < 45*1024 {
		fmt.Fprintf(&burst, "P=%d.%d\n", 100+want%50, want%10)
		want++
	}
	for _, c := range []struct {
		batch int
		hogs  bool
	}{{linesPerTurn, false}, {1 << 30, true}} {
		vc := loop.NewVirtualClock()
		l := loop.New(loop.WithClock(vc), loop.WithHogThreshold(10*time.Millisecond), loop.WithLogger(slog.New(slog.DiscardHandler)))
		peer := uarttest.NewPeer()
		s, err := uart.New("/dev/ttySIM", uart.WithOpener(peer.Opener()))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var stats loop.Stats
		err = l.Run(context.Background(), func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("uart", s.Run)
			done := make(chan struct{})
			g.Go("lines", func(tk *loop.Task) error {
				return readLines(tk, s, c.batch, nil, slog.New(slog.DiscardHandler), func(line string) {
					vc.Advance(time.Duration(len(line)+1) * 2200 * time.Nanosecond)
					if got = append(got, line); len(got) == want {
						close(done)
					}
				})
			})
			peer.SayRaw([]byte(burst.String()))
			if _, err := loop.Offload(tk, func(context.Context) (struct{}, error) { <-done; return struct{}{}, nil }); err != nil {
				return err
			}
			stats = tk.Loop().Stats()
			return g.Stop(tk)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want || got[0] != "P=100.0" || got[want-1] != strings.TrimSuffix(burst.String()[strings.LastIndex(burst.String()[:burst.Len()-1], "\n")+1:], "\n") {
			t.Fatalf("batch %d: %d lines taken, want %d in order", c.batch, len(got), want)
		}
		if (stats.Hogs > 0) != c.hogs {
			t.Errorf("batch %d: %d hogs, longest %v in %q; want hogs %v", c.batch, stats.Hogs, stats.MaxHog, stats.MaxHogTask, c.hogs)
		}
		if c.hogs && stats.MaxHog < 90*time.Millisecond {
			t.Errorf("unbounded: longest hog %v, want the whole burst's ~99ms", stats.MaxHog)
		}
	}
}
