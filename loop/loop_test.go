package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Ready tasks run first in, first out, and a new task runs only after its
// creator awaits (the seed: create_task appends to runq).
func TestReadyTasksRunInOrder(t *testing.T) {
	l, _, _ := virtualLoop()
	var got []string
	run(t, l, func(t *Task) error {
		var tasks []*Task
		for _, name := range []string{"a", "b", "c"} {
			tasks = append(tasks, l.Go(name, func(t *Task) error {
				got = append(got, name+"1")
				if err := t.Yield(); err != nil {
					return err
				}
				got = append(got, name+"2")
				return nil
			}))
		}
		got = append(got, "main1")
		if err := t.Yield(); err != nil {
			return err
		}
		got = append(got, "main2")
		for _, task := range tasks {
			if err := task.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	if want := "main1 a1 b1 c1 main2 a2 b2 c2"; strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// CallSoon joins the ready queue in order; CallLater fires at its exact
// virtual time, due timers joining the back of the queue on the next pass.
func TestCallSoonAndCallLaterOrder(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		l.CallLater(10*time.Millisecond, func() { r.note("later10") })
		l.CallLater(0, func() { r.note("later0") })
		l.CallSoon(func() { r.note("soon1") })
		l.CallLater(5*time.Millisecond, func() { r.note("later5") })
		l.CallLater(5*time.Millisecond, func() { r.note("later5b") })
		l.CallSoon(func() { r.note("soon2") })
		r.note("main")
		if err := t.Yield(); err != nil {
			return err
		}
		r.note("main-yielded")
		return t.Sleep(20 * time.Millisecond)
	})
	r.want(t, "main@0s", "soon1@0s", "soon2@0s", "main-yielded@0s", "later0@0s",
		"later5@5ms", "later5b@5ms", "later10@10ms")
}

func TestTimerStopAndReset(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		stopped := l.CallLater(time.Second, func() { r.note("stopped") })
		reset := l.CallLater(time.Second, func() { r.note("reset") })
		if !stopped.Stop() || stopped.Stop() {
			return errors.New("Stop: want true then false")
		}
		if err := t.Sleep(500 * time.Millisecond); err != nil {
			return err
		}
		if !reset.Reset(2*time.Second) || !reset.Pending() {
			return errors.New("Reset of a pending timer: want true and pending")
		}
		if err := t.Sleep(3 * time.Second); err != nil {
			return err
		}
		if reset.Pending() || reset.Reset(time.Second) {
			return errors.New("a fired timer: want not pending, Reset false")
		}
		return t.Sleep(2 * time.Second)
	})
	r.want(t, "reset@2.5s", "reset@4.5s")
}

// Minutes of device time run in an instant, exactly.
func TestVirtualClockJumpsToNextTimer(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		for _, d := range []time.Duration{3 * time.Minute, time.Minute, 90 * time.Second} {
			g.Go(d.String(), func(t *Task) error {
				if err := t.Sleep(d); err != nil {
					return err
				}
				r.note(d.String())
				return nil
			})
		}
		return g.Wait(t)
	})
	r.want(t, "1m0s@1m0s", "1m30s@1m30s", "3m0s@3m0s")
	if got := l.Now().Sub(NewVirtualClock().Now()); got != 3*time.Minute {
		t.Fatalf("Now advanced by %v, want 3m", got)
	}
}

func TestSleepZeroYields(t *testing.T) {
	l, _, _ := virtualLoop()
	var got []string
	run(t, l, func(t *Task) error {
		other := l.Go("other", func(t *Task) error { got = append(got, "other"); return nil })
		if err := t.Sleep(0); err != nil {
			return err
		}
		got = append(got, "main")
		return other.Wait(t)
	})
	if strings.Join(got, " ") != "other main" {
		t.Fatalf("got %v", got)
	}
}

func TestRunReturnsMainError(t *testing.T) {
	l, _, _ := virtualLoop()
	boom := errors.New("boom")
	if err := l.Run(context.Background(), func(t *Task) error { return boom }); err != boom {
		t.Fatalf("Run = %v, want boom", err)
	}
}

// When main returns, the tasks still running are cancelled and their
// cleanup runs before Run returns.
func TestRunCancelsLeftoverTasks(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		l.Go("leftover", func(t *Task) error {
			err := t.Sleep(time.Hour)
			r.note(fmt.Sprint("leftover: ", err))
			return err
		})
		return t.Sleep(time.Second)
	})
	r.want(t, "leftover: loop: task cancelled@1s")
}

func TestRunForeverStopsWithContext(t *testing.T) {
	l, _, _ := virtualLoop()
	ctx, cancel := context.WithCancel(context.Background())
	cleaned := false
	l.Go("worker", func(t *Task) error {
		defer func() { cleaned = true }()
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		cancel()
		return t.Sleep(time.Hour)
	})
	if err := l.RunForever(ctx); err != nil {
		t.Fatalf("RunForever = %v", err)
	}
	if !cleaned {
		t.Fatal("worker's cleanup did not run")
	}
}

func TestRunTwicePanics(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error { return nil })
	msg := mustPanic(t, func() { _ = l.Run(context.Background(), func(t *Task) error { return nil }) })
	if !strings.Contains(msg, "runs once") {
		t.Fatalf("panic %q", msg)
	}
}

func TestFutureAwait(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		f := Spawn(l, "answer", func(t *Task) (int, error) {
			if err := t.Sleep(time.Second); err != nil {
				return 0, err
			}
			return 42, nil
		})
		v, err := f.Wait(t)
		if v != 42 || err != nil || vc.Elapsed() != time.Second {
			return fmt.Errorf("Await = %d, %v at %v", v, err, vc.Elapsed())
		}
		if !f.Task().Done() {
			return errors.New("future's task not done after Await")
		}
		return nil
	})
}

// 100 000 tasks alive at once all complete, at the right virtual times.
// Under the race detector, which makes this the suite's slowest test by
// far, 10 000 do (the 100 000 run without it and in BenchmarkParkedTask).
func TestHundredThousandTasks(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 10_000
	}
	l, vc, _ := virtualLoop()
	done := 0
	var last time.Duration
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		for i := range n {
			g.Go("", func(t *Task) error {
				if err := t.Sleep(time.Duration(i%1000) * time.Millisecond); err != nil {
					return err
				}
				done++
				last = vc.Elapsed()
				return nil
			})
		}
		if l.Stats().Tasks != n+1 {
			return fmt.Errorf("%d tasks alive, want %d", l.Stats().Tasks, n+1)
		}
		return g.Wait(t)
	})
	if done != n || last != 999*time.Millisecond {
		t.Fatalf("%d tasks done, last at %v; want %d at 999ms", done, last, n)
	}
	if s := l.Stats(); s.Tasks != 0 || s.Timers != 0 {
		t.Fatalf("after Run: %d tasks, %d timers left", s.Tasks, s.Timers)
	}
}

func TestStats(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		l.Go("sleeper", func(t *Task) error { return t.Sleep(time.Second) })
		l.CallLater(time.Hour, func() {})
		if err := t.Yield(); err != nil {
			return err
		}
		s := l.Stats()
		if s.Tasks != 2 || s.Timers != 2 || s.Spawned != 2 {
			return fmt.Errorf("stats %+v: want 2 tasks, 2 timers, 2 spawned", s)
		}
		return t.Sleep(2 * time.Second)
	})
	s := l.Stats()
	if s.Tasks != 0 || s.TimersFired != 2 || s.Switches < 4 || s.IdleWaits != 0 {
		t.Fatalf("final stats %+v", s)
	}
}

// A timer that has fired but whose callback waits behind other ready
// entries can still be stopped or reset: a Delay retriggered in that
// moment must not expire.
func TestTimerStoppedAfterFiringBeforeRunning(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		var stopped, reset *Timer
		canceller := l.Go("canceller", func(t *Task) error {
			if err := t.Sleep(time.Second); err != nil { // its timer is set first
				return err
			}
			// Both timers have fired; their callbacks are queued behind us.
			if !stopped.Pending() || !stopped.Stop() || stopped.Pending() {
				return errors.New("a fired, queued timer: want pending, then stopped")
			}
			if !reset.Reset(time.Second) {
				return errors.New("Reset of a fired, queued timer: want true")
			}
			return nil
		})
		if err := t.Yield(); err != nil {
			return err
		}
		stopped = l.CallLater(time.Second, func() { r.note("stopped ran") })
		reset = l.CallLater(time.Second, func() { r.note("reset ran") })
		if err := canceller.Wait(t); err != nil {
			return err
		}
		return t.Sleep(2 * time.Second)
	})
	r.want(t, "reset ran@2s")
}

// SleepUntil wakes when the clock reads the given time; a time passed only
// yields. The virtual clock's Start and Since turn clock readings back into
// elapsed time, and NewVirtualClockAt starts where it is told.
func TestSleepUntilAndClockStart(t *testing.T) {
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	vc := NewVirtualClockAt(start)
	l := New(WithClock(vc), WithLogger(slog.New(slog.DiscardHandler)))
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		minute := vc.Start().Add(time.Minute)
		if err := t.SleepUntil(minute.Add(-30 * time.Second)); err != nil {
			return err
		}
		r.note("half")
		if err := t.SleepUntil(minute); err != nil {
			return err
		}
		r.note(fmt.Sprint("minute ", vc.Since(l.Now())))
		if err := t.SleepUntil(start); err != nil { // passed: only yields
			return err
		}
		r.note("past")
		return nil
	})
	r.want(t, "half@30s", "minute 1m0s@1m0s", "past@1m0s")
	if vc.Start() != start || NewVirtualClock().Start() != VirtualEpoch() || !l.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("Start %v, Now %v", vc.Start(), l.Now())
	}
}

// Under a virtual clock, hogs are measured in virtual time: simulated slow
// hardware (VirtualClock.Advance) run inline by a task or callback is a hog
// the same way every run, named exactly; the same time split by an await,
// or run off the loop, is not; timers come due by the time advanced.
func TestVirtualHogs(t *testing.T) {
	l, vc, logs := virtualLoop(WithHogThreshold(20 * time.Millisecond))
	const ms = time.Millisecond
	run(t, l, func(t *Task) error {
		woke := time.Duration(0)
		l.Go("sleeper", func(t *Task) error {
			err := t.Sleep(25 * ms)
			woke = vc.Elapsed()
			return err
		})
		l.Go("inline", func(t *Task) error { vc.Advance(30 * ms); return nil }) // a 30 ms bus transfer on the loop
		l.Go("split", func(t *Task) error {
			vc.Advance(15 * ms)
			if err := t.Yield(); err != nil {
				return err
			}
			vc.Advance(15 * ms)
			return nil
		})
		l.CallSoon(func() { vc.Advance(21 * ms) })
		if _, err := Offload(t, func(context.Context) (struct{}, error) {
			return struct{}{}, nil
		}); err != nil {
			return err
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		s := l.Stats()
		if s.Hogs != 2 || s.MaxHog != 30*ms || s.MaxHogTask != "inline" || woke != 81*ms {
			return fmt.Errorf("hogs %d, longest %v in %q, sleeper woke at %v; want 2, 30ms in inline, 81ms (the next pass after the advances)",
				s.Hogs, s.MaxHog, s.MaxHogTask, woke)
		}
		return nil
	})
	for _, want := range []string{`task=inline ran=30ms`, `task=callback ran=21ms`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
	}
}

// Under a virtual clock a real-time stall — which on a test machine says
// more about its load than about the code — is logged, not counted.
func TestVirtualClockRealStallNotCounted(t *testing.T) {
	l, _, logs := virtualLoop(WithHogThreshold(10 * time.Millisecond))
	run(t, l, func(t *Task) error {
		spinner := l.Go("spinner", func(t *Task) error {
			deadline := time.Now().Add(10 * time.Second)
			for !l.inbox.pending() && time.Now().Before(deadline) { // until the watchdog has flagged us
			}
			return nil
		})
		return spinner.Wait(t)
	})
	if s := l.Stats(); s.Hogs != 0 || !strings.Contains(logs.String(), "not counted as a hog, the clock is virtual\" task=spinner") {
		t.Fatalf("hogs %d; log:\n%s", s.Hogs, logs)
	}
}
