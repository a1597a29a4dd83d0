package gpioin_test

import (
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
)

// debounced plays script on a SimPin through an Input and a Debouncer of d
// and returns the settled changes.
func debounced(t *testing.T, d time.Duration, initial bool, script ...gpiointest.Step) []seen {
	t.Helper()
	lv := L
	if initial {
		lv = H
	}
	pin := gpiointest.NewPin("contact", lv)
	in := mustInput(t, pin)
	var got []seen
	w := drivertest.NewWorld()
	w.Run(t, func(tk *loop.Task) error {
		db := gpioin.NewDebouncer(tk.Loop(), d, func(e gpioin.Edge) {
			got = append(got, seen{e.Level, w.Since(e.Time), e.Initial})
		})
		defer db.Stop()
		return drivertest.Play(tk, "input", func(tk *loop.Task) error { return in.Run(tk, db.Edge) }, pin, time.Second, script...)
	})
	return got
}

func TestDebouncer(t *testing.T) {
	const d = 50 * time.Millisecond
	for _, tc := range []struct {
		name   string
		script []gpiointest.Step
		want   []seen
	}{
		{"clean press and release",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(300), Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(300), false}}},
		{"bounce storms of 1 ms pulses on press and release",
			append(drivertest.Bounce(ms(100), 20, L), drivertest.Bounce(ms(400), 30, H)...),
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(400), false}}},
		{"a storm longer than the debounce time is still one change",
			drivertest.Bounce(ms(100), 200, L),
			[]seen{{H, 0, true}, {L, ms(100), false}}},
		{"press shorter than the debounce time: release reported when quiet",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(130), Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(180), false}}},
		{"release just after the window: reported at once",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(150) + time.Microsecond, Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(150) + time.Microsecond, false}}},
		{"release exactly at the window's end: reported as it ends",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(150), Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(150), false}}},
		{"a 1 µs glitch: the seed's immediate response, undone when quiet",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(100) + time.Microsecond, Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(150) + time.Microsecond, false}}},
		{"bounce that ends where it started: one change each way",
			[]gpiointest.Step{{At: ms(100), Level: L}, {At: ms(101), Level: H}, {At: ms(102), Level: L}, {At: ms(103), Level: H}},
			[]seen{{H, 0, true}, {L, ms(100), false}, {H, ms(153), false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := debounced(t, d, true, tc.script...)
			if fmtSeen(got) != fmtSeen(tc.want) {
				t.Fatalf("got  %s\nwant %s", fmtSeen(got), fmtSeen(tc.want))
			}
		})
	}
}

func TestDebouncerOff(t *testing.T) {
	got := debounced(t, 0, false, drivertest.Bounce(ms(10), 3, L)...) // H L H L at 10–13 ms
	want := []seen{{L, 0, true}, {H, ms(10), false}, {L, ms(11), false}, {H, ms(12), false}, {L, ms(13), false}}
	if fmtSeen(got) != fmtSeen(want) {
		t.Fatalf("got  %s\nwant %s", fmtSeen(got), fmtSeen(want))
	}
}

// Edges that reach the loop late — all at once, long after they happened —
// are debounced by their stamps: the result is the one they would have
// given on time, at the same times. This is also what makes the outcome
// independent of whether a window's timer callback or an edge is handled
// first when both are due.
func TestDebouncerGoesByEdgeTimes(t *testing.T) {
	const d = 50 * time.Millisecond
	script := append(append(drivertest.Bounce(ms(100), 20, L), drivertest.Bounce(ms(400), 10, H)...), drivertest.Bounce(ms(460), 4, L)...)
	onTime := debounced(t, d, true, script...)

	var late []seen
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		start := tk.Loop().Now()
		db := gpioin.NewDebouncer(tk.Loop(), d, func(e gpioin.Edge) {
			late = append(late, seen{e.Level, e.Time.Sub(start), e.Initial})
		})
		defer db.Stop()
		db.Edge(gpioin.Edge{Level: H, Time: start, Initial: true})
		if err := tk.Sleep(2 * time.Second); err != nil {
			return err
		}
		for _, s := range script { // two seconds late, in one batch
			db.Edge(gpioin.Edge{Level: s.Level, Time: start.Add(s.At)})
		}
		return tk.Sleep(time.Second)
	})
	want := []seen{{H, 0, true}, {L, ms(100), false}, {H, ms(400), false}, {L, ms(460), false}}
	if fmtSeen(onTime) != fmtSeen(want) || fmtSeen(late) != fmtSeen(want) {
		t.Fatalf("on time %s\nlate    %s\nwant    %s", fmtSeen(onTime), fmtSeen(late), fmtSeen(want))
	}
}
