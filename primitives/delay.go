package primitives

import (
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// A Delay is a retriggerable one-shot timer (the seed's Delay_ms): Trigger
// starts it, triggering again before it expires pushes the expiry back, so
// it fires only once things have been quiet for its duration — the shape of
// a watchdog, a debounce, or a "reply finished" silence detector.
//
// On expiry it runs its callback, if any, on the loop, and wakes the tasks
// in Wait. Unlike the seed's V2, a Trigger may also bring the expiry
// forward.
type Delay struct {
	l        *loop.Loop
	duration time.Duration
	callback func()
	timer    *loop.Timer
	started  time.Time // when the running delay was last triggered
	length   time.Duration
	expired  loop.WaitQueue
	fired    uint64 // expiries so far; a Wait returns when it moves
}

// NewDelay returns a stopped delay on l whose Trigger(0) lasts duration
// and whose expiry calls callback (nil for none).
func NewDelay(l *loop.Loop, duration time.Duration, callback func()) *Delay {
	return &Delay{l: l, duration: duration, callback: callback}
}

// Trigger (re)starts the delay to expire d from now; d ≤ 0 means the
// default duration.
func (dl *Delay) Trigger(d time.Duration) {
	if d <= 0 {
		d = dl.duration
	}
	dl.started, dl.length = dl.l.Now(), d
	if dl.timer == nil {
		dl.timer = dl.l.CallLater(d, dl.expire)
		return
	}
	dl.timer.Reset(d)
}

// Stop stops the delay without running the callback or waking waiters.
func (dl *Delay) Stop() {
	if dl.timer != nil {
		dl.timer.Stop()
	}
}

// Running reports whether the delay has been triggered and not yet expired
// or been stopped.
func (dl *Delay) Running() bool { return dl.timer != nil && dl.timer.Pending() }

// Duration returns the default duration.
func (dl *Delay) Duration() time.Duration { return dl.duration }

// SetDuration changes the default duration. A running delay that was
// triggered with the default now expires at its trigger time plus d — at
// once if that has passed.
func (dl *Delay) SetDuration(d time.Duration) {
	wasDefault := dl.length == dl.duration
	dl.duration = d
	if dl.Running() && wasDefault {
		dl.length = d
		dl.timer.Reset(max(dl.started.Add(d).Sub(dl.l.Now()), 0))
	}
}

// Deadline reports when a running delay will expire.
func (dl *Delay) Deadline() (time.Time, bool) {
	if !dl.Running() {
		return time.Time{}, false
	}
	return dl.started.Add(dl.length), true
}

// Wait waits for the delay's next expiry; a Stop does not end the wait.
// It fails only with the task's interruption.
func (dl *Delay) Wait(t *loop.Task) error {
	fired := dl.fired
	for dl.fired == fired {
		if err := dl.expired.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

func (dl *Delay) expire() {
	dl.fired++
	dl.expired.WakeAll()
	if dl.callback != nil {
		dl.callback()
	}
}
