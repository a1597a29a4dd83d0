package loop

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchdog is the hog detector. Timing every task switch would cost a clock
// read per switch — a quarter of a switch — so instead the loop bumps a
// counter per switch and a timer samples it: a counter that stands still
// while the loop is busy means one task or callback has run that long
// without awaiting. The loop names the culprit when it next gets control,
// so the report costs nothing on the hot path.
//
// The timer runs only while the loop is busy: it is armed when the loop
// leaves its idle wait and stopped when it enters it, so a loop that wakes,
// works for microseconds and sleeps again costs no extra wake-up.
type watchdog struct {
	beat     atomic.Uint64 // task and callback runs; moves whenever the loop does
	idle     atomic.Bool   // the loop is waiting for work, not stuck
	maxStall atomic.Int64  // longest run seen without the counter moving, ns

	timer     *time.Timer // nil when the detector is off
	period    time.Duration
	threshold int64

	mu        sync.Mutex // the sampling state below; sample runs on timer goroutines
	stopped   bool
	sampling  bool   // last and since are meaningful
	last      uint64 // beat at the previous sample
	since     int64  // when beat was first seen at that value
	reported  bool   // this stall has been posted for a report
	loggedOwn bool   // this stall has been logged by the watchdog itself
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
	w.mu.Lock() // the first sample may fire before the assignment is done
	w.timer = time.AfterFunc(w.period, func() { w.sample(l) })
	w.mu.Unlock()
}

func (l *Loop) stopWatchdog() {
	w := &l.watch
	if w.timer == nil {
		return
	}
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.timer.Stop()
}

// setIdle and setBusy are called by the loop around its idle wait.
func (w *watchdog) setIdle() {
	w.idle.Store(true)
	if w.timer != nil {
		w.timer.Stop()
	}
}

func (w *watchdog) setBusy() {
	w.idle.Store(false)
	if w.timer != nil {
		w.timer.Reset(w.period)
	}
}

func (w *watchdog) sample(l *Loop) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.idle.Load() {
		w.sampling = false
		return
	}
	now, b := l.wallNow(), w.beat.Load()
	if !w.sampling || b != w.last {
		w.sampling, w.last, w.since, w.reported, w.loggedOwn = true, b, now, false, false
	} else {
		stall := now - w.since
		if stall > w.maxStall.Load() {
			w.maxStall.Store(stall)
		}
		if !w.reported && stall >= w.threshold {
			w.reported = true
			seq, start := b, w.since
			_ = l.Post(func() { l.reportHog(seq, start) })
		}
		if !w.loggedOwn && stall >= int64(stalledLogAfter) {
			w.loggedOwn = true
			l.log.Error("loop: stalled: a task or callback has not awaited", "for", time.Duration(stall))
		}
	}
	w.timer.Reset(w.period)
}

// virtualNow reads a virtual clock, 0 for a real one.
func (l *Loop) virtualNow() int64 {
	if l.vclock == nil {
		return 0
	}
	return l.vclock.now.Load()
}

// virtualRun counts a hog measured on a virtual clock: the task or callback
// named who, which started when the clock read v0, advanced it (through
// VirtualClock.Advance) by the hog threshold or more before returning
// control. What simulated hardware takes is counted the same way on every
// run, unlike the real time a loaded test machine takes.
func (l *Loop) virtualRun(who string, v0 int64) {
	ran := l.vclock.now.Load() - v0
	if l.hogThreshold <= 0 || ran < l.hogThreshold {
		return
	}
	l.countHog(who, ran)
	l.log.Warn("loop: task ran without awaiting and blocked every other task (virtual time)",
		"task", who, "ran", time.Duration(ran), "threshold", time.Duration(l.hogThreshold))
}

func (l *Loop) countHog(who string, ran int64) {
	l.stats.hogs++
	if ran > l.stats.maxHog {
		l.stats.maxHog = ran
		l.stats.maxHogTask = who
	}
}

// reportHog runs on the loop right after the hog returned control: the
// pass drains posts between entries, so the entry run last before the drain
// is the culprit. Under a virtual clock, real time says how loaded the test
// machine is rather than what the code does: the stall is logged, not
// counted (virtualRun counts hogs there).
func (l *Loop) reportHog(seq uint64, since int64) {
	ran := time.Duration(l.wallNow() - since)
	name := "callback"
	switch {
	case l.culpritBeat != seq:
		name = "unknown"
	case l.culpritTask != nil:
		name = l.culpritTask.name
	}
	if l.vclock != nil {
		l.log.Info("loop: task ran long in real time; not counted as a hog, the clock is virtual",
			"task", name, "ran_at_least", ran)
		return
	}
	l.countHog(name, int64(ran))
	l.log.Warn("loop: task ran without awaiting and blocked every other task",
		"task", name, "ran_at_least", ran, "threshold", time.Duration(l.hogThreshold))
}
