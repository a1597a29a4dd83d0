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
	l     *loop.Loop
	d     time.Duration
	fn    func(Edge)
	level gpio.Level // reported
	raw   gpio.Level // last seen
	timer *loop.Timer
}

// NewDebouncer returns a Debouncer on l that calls fn with each settled
// change (and passes the Input's initial edge through). d ≤ 0 turns
// debouncing off: every change of level is passed on.
func NewDebouncer(l *loop.Loop, d time.Duration, fn func(Edge)) *Debouncer {
	return &Debouncer{l: l, d: max(d, 0), fn: fn}
}

// Edge takes one edge from an Input; pass it as Input.Run's function.
func (db *Debouncer) Edge(e Edge) {
	db.raw = e.Level
	if e.Initial {
		db.level = e.Level
		db.fn(e)
		return
	}
	if db.d == 0 {
		if e.Level != db.level {
			db.level = e.Level
			db.fn(e)
		}
		return
	}
	quietAt := e.Time.Add(db.d).Sub(db.l.Now())
	if db.timer != nil && db.timer.Pending() {
		db.timer.Reset(quietAt) // bounce: the window ends d after this edge
		return
	}
	db.startWindow(quietAt)
	if e.Level != db.level {
		db.level = e.Level
		db.fn(Edge{Level: e.Level, Time: e.Time})
	}
}

func (db *Debouncer) startWindow(d time.Duration) {
	if db.timer == nil {
		db.timer = db.l.CallLater(d, db.settled)
	} else {
		db.timer.Reset(d)
	}
}

// settled runs when the contact has been quiet for the debounce time.
func (db *Debouncer) settled() {
	if db.raw == db.level {
		return
	}
	db.level = db.raw
	db.startWindow(db.d)
	db.fn(Edge{Level: db.raw, Time: db.l.Now()})
}

// Level reports the debounced level.
func (db *Debouncer) Level() gpio.Level { return db.level }

// Stop cancels a pending check, so fn is not called again; call it when the
// Input's Run has returned.
func (db *Debouncer) Stop() {
	if db.timer != nil {
		db.timer.Stop()
	}
}
