package gpioin

import (
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A Debouncer turns the raw edges of a mechanical contact into settled level
// changes, with the seed's response: a change is reported at once, at the
// time of its first edge, and then the contact must be quiet for the debounce
// time before another change can be reported. Every edge in that window —
// bounce — pushes its end back; when it ends, the last level seen is compared
// with the reported one and reported if it differs.
//
// So a clean press is reported with no delay, a bounce storm of any length
// gives one change, and a press shorter than the debounce time still gives a
// press and, one debounce time after its last edge, a release. The seed
// polled every debounce period instead, so it could miss a short click
// entirely and reported changes up to a period late.
//
// A Debouncer is used on one loop, from an Input's function.
type Debouncer struct {
	l         *loop.Loop
	d         time.Duration
	fn        func(Edge)
	level     gpio.Level // reported
	raw       gpio.Level // last seen
	inWindow  bool       // a change was reported and the contact is not yet quiet
	windowEnd time.Time  // when it will be, unless another edge comes first
	timer     *loop.Timer
}

// NewDebouncer returns a Debouncer on l that calls fn with each settled
// change (and passes the Input's initial edge through). d ≤ 0 turns
// debouncing off: every change of level is passed on.
func NewDebouncer(l *loop.Loop, d time.Duration, fn func(Edge)) *Debouncer {
	return &Debouncer{l: l, d: max(d, 0), fn: fn}
}

// Edge takes one edge from an Input; pass it as Input.Run's function.
//
// Decisions follow the edges' own times, not the order in which the loop
// runs things: an edge stamped after the quiet window ended first settles
// that window (even if the window's timer has not been handled yet), so the
// result does not depend on how late edges reach the loop.
func (db *Debouncer) Edge(e Edge) {
	if e.Initial {
		db.raw, db.level, db.inWindow = e.Level, e.Level, false
		db.fn(e)
		return
	}
	if db.d == 0 {
		db.raw = e.Level
		if e.Level != db.level {
			db.level = e.Level
			db.fn(e)
		}
		return
	}
	if db.inWindow && !e.Time.Before(db.windowEnd) {
		db.settle(db.windowEnd)
	}
	db.raw = e.Level
	bounce := db.inWindow
	db.openWindow(e.Time) // quiet only d after this edge
	if !bounce && e.Level != db.level {
		db.level = e.Level
		db.fn(Edge{Level: e.Level, Time: e.Time})
	}
}

// openWindow starts or extends the quiet window to d after from.
func (db *Debouncer) openWindow(from time.Time) {
	db.inWindow, db.windowEnd = true, from.Add(db.d)
	d := db.windowEnd.Sub(db.l.Now())
	if db.timer == nil {
		db.timer = db.l.CallLater(d, db.timerFired)
	} else {
		db.timer.Reset(d)
	}
}

func (db *Debouncer) timerFired() {
	// The loop may run a timer's callback after code that moved the window
	// (see TestLoopTimerStopBeforeCallbackRuns): go by the time.
	db.SettleUntil(db.l.Now())
}

// SettleUntil reports now, with its own time, a change whose quiet window
// ended by `at` and whose timer has not been handled yet. A driver with
// timers of its own calls it first from them, so that a change stamped
// before its deadline is seen before the deadline is acted on, however late
// the loop gets to either.
func (db *Debouncer) SettleUntil(at time.Time) {
	for db.inWindow && !at.Before(db.windowEnd) {
		db.settle(db.windowEnd)
	}
}

// settle ends the quiet window at `at`: a level that differs from the one
// reported is reported then, and opens a window of its own.
func (db *Debouncer) settle(at time.Time) {
	db.inWindow = false
	if db.raw == db.level {
		return
	}
	db.level = db.raw
	db.openWindow(at)
	db.fn(Edge{Level: db.raw, Time: at})
}

// Level reports the debounced level.
func (db *Debouncer) Level() gpio.Level { return db.level }

// Stop cancels a pending check, so fn is not called again; call it when the
// Input's Run has returned.
func (db *Debouncer) Stop() {
	db.inWindow = false
	if db.timer != nil {
		db.timer.Stop()
	}
}
