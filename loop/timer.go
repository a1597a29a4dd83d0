package loop

import "time"

// timer is one entry of the loop's timer heap. A timer readies a sleeping
// task (task set), expires a WaitFor scope (scope set) or queues a callback
// (fn set). Tasks embed their sleep timer, so sleeping allocates nothing.
type timer struct {
	when  int64  // deadline, nanoseconds on the loop's clock
	seq   uint64 // tie-break: equal deadlines fire in the order they were set
	index int    // position in the heap, -1 when not scheduled
	task  *Task
	scope *scope
	fn    func()
	owner *Timer // the CallLater timer this is, with fn
}

// timerHeap is a binary min-heap ordered by (when, seq). It is written out
// rather than built on container/heap to avoid an interface call per step
// in the loop's hottest path after switching.
type timerHeap []*timer

func (h timerHeap) less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

func (h *timerHeap) push(t *timer) {
	t.index = len(*h)
	*h = append(*h, t)
	h.up(t.index)
}

// remove takes t out of the heap; t must be in it.
func (h *timerHeap) remove(t *timer) {
	i := t.index
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	t.index = -1
}

// A Timer is a callback scheduled by Loop.CallLater. Its methods must be
// called on the loop (from a task or a callback).
type Timer struct {
	l      *Loop
	t      timer
	queued bool   // fired, its callback waiting in the run queue
	gen    uint64 // bumped by Stop, so a queued callback no longer runs
}

// Stop cancels the timer. It reports whether the call stopped it, false if
// its callback had already run or it had been stopped. A timer that has
// fired but whose callback has not run yet is stopped too: the callback
// will not run.
func (tm *Timer) Stop() bool {
	switch {
	case tm.t.index >= 0:
		tm.l.timers.remove(&tm.t)
		return true
	case tm.queued:
		tm.queued = false
		tm.gen++
		return true
	}
	return false
}

// Reset (re)schedules the timer to fire d from now, whether or not it is
// pending. It reports whether the timer was pending.
func (tm *Timer) Reset(d time.Duration) bool {
	pending := tm.Stop()
	tm.l.schedule(&tm.t, d)
	return pending
}

// Pending reports whether the timer's callback is still to run.
func (tm *Timer) Pending() bool { return tm.t.index >= 0 || tm.queued }
