package loop

import (
	"sync/atomic"
	"time"
)

// watchdog is the hog detector. Timing every task switch would cost a clock
// read per switch — a quarter of a switch — so instead the loop bumps a
// counter per switch and this goroutine samples it: a counter that stands
// still while the loop is busy means one task or callback has run that
// long without awaiting. The loop names the culprit when it next gets
// control, so the report costs nothing on the hot path.
type watchdog struct {
	beat      atomic.Uint64 // task and callback runs; moves whenever the loop does
	idle      atomic.Bool   // the loop is waiting for work, not stuck
	maxStall  atomic.Int64  // longest run seen without the counter moving, ns
	wake      chan struct{} // the loop left idle
	stop      chan struct{}
	done      chan struct{}
	period    time.Duration
	threshold int64
}

// stalledLogAfter is how long a stall must last before the watchdog itself
// logs it, not waiting for the stuck task to return control.
const stalledLogAfter = 10 * time.Second

func (l *Loop) startWatchdog() {
	if l.hogThreshold <= 0 {
		return
	}
	w := &l.watch
	w.threshold = l.hogThreshold
	w.period = max(time.Duration(l.hogThreshold)/4, time.Millisecond)
	w.wake = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	go w.run(l)
}

func (l *Loop) stopWatchdog() {
	if l.watch.stop != nil {
		close(l.watch.stop)
		<-l.watch.done
	}
}

func (w *watchdog) run(l *Loop) {
	defer close(w.done)
	tick := time.NewTimer(w.period)
	defer tick.Stop()
	var (
		last      = w.beat.Load()
		since     = l.wallNow()
		reported  bool
		loggedOwn bool
	)
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		if w.idle.Load() {
			select {
			case <-w.stop:
				return
			case <-w.wake:
			}
			last, since, reported, loggedOwn = w.beat.Load(), l.wallNow(), false, false
			tick.Reset(w.period)
			continue
		}
		now, b := l.wallNow(), w.beat.Load()
		if b != last {
			last, since, reported, loggedOwn = b, now, false, false
		} else {
			stall := now - since
			if stall > w.maxStall.Load() {
				w.maxStall.Store(stall)
			}
			if !reported && stall >= w.threshold {
				reported = true
				seq, start := b, since
				_ = l.Post(func() { l.reportHog(seq, start) })
			}
			if !loggedOwn && stall >= int64(stalledLogAfter) {
				loggedOwn = true
				l.log.Error("loop: stalled: a task or callback has not awaited", "for", time.Duration(stall))
			}
		}
		tick.Reset(w.period)
	}
}

// reportHog runs on the loop right after the hog returned control: the
// pass drains posts between entries, so the entry run last before the drain
// is the culprit.
func (l *Loop) reportHog(seq uint64, since int64) {
	ran := time.Duration(l.wallNow() - since)
	name := "callback"
	switch {
	case l.culpritBeat != seq:
		name = "unknown"
	case l.culpritTask != nil:
		name = l.culpritTask.name
	}
	l.stats.hogs++
	if int64(ran) > l.stats.maxHog {
		l.stats.maxHog = int64(ran)
		l.stats.maxHogTask = name
	}
	l.log.Warn("loop: task ran without awaiting and blocked every other task",
		"task", name, "ran_at_least", ran, "threshold", time.Duration(l.hogThreshold))
}
