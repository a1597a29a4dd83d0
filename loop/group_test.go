package loop

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Stopping a group cancels the children and waits for their cleanup, even
// cleanup that takes time (the seed's cancel_all waited on a barrier).
func TestGroupStopWaitsForCleanup(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		for i := 1; i <= 3; i++ {
			g.Go(fmt.Sprint("child", i), func(t *Task) error {
				err := t.Sleep(time.Hour)
				return errors.Join(err, Shield(t, func(t *Task) error {
					if err := t.Sleep(time.Duration(i) * 100 * time.Millisecond); err != nil {
						return err
					}
					r.note(fmt.Sprint("child", i, " cleaned up"))
					return nil
				}))
			})
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		if err := g.Stop(t); err != nil {
			return err
		}
		r.note(fmt.Sprintf("stopped, %d left", g.Len()))
		return nil
	})
	r.want(t, "child1 cleaned up@1.1s", "child2 cleaned up@1.2s", "child3 cleaned up@1.3s",
		"stopped, 0 left@1.3s")
}

// A waiting owner cancelled still waits for its children's cleanup.
func TestGroupWaitCancelledWaitsForChildren(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		owner := l.Go("owner", func(t *Task) error {
			g := NewGroup(t)
			g.Go("child", func(t *Task) error {
				err := errors.Join(t.Sleep(time.Hour), Shield(t, func(t *Task) error { return t.Sleep(time.Second) }))
				r.note("child done")
				return err
			})
			err := g.Wait(t)
			r.note(fmt.Sprint("owner: ", err))
			return err
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		owner.Cancel()
		return ignore(owner.Wait(t), ErrCancelled)
	})
	r.want(t, "child done@2s", "owner: loop: task cancelled@2s")
}

// An owner whose function returns with children still running cancels them
// and waits; no child outlives its owner.
func TestGroupOwnerReturnClosesGroup(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		owner := l.Go("owner", func(t *Task) error {
			g := NewGroup(t)
			g.Go("child", func(t *Task) error {
				err := errors.Join(t.Sleep(time.Hour), Shield(t, func(t *Task) error { return t.Sleep(time.Second) }))
				r.note("child done")
				return err
			})
			if err := t.Yield(); err != nil { // let the child start
				return err
			}
			r.note("owner returns")
			return nil
		})
		err := owner.Wait(t)
		r.note(fmt.Sprint("owner done: ", err))
		return err
	})
	r.want(t, "owner returns@0s", "child done@1s", "owner done: <nil>@1s")
}

// The seed's NamedTask: children are found by name while they run —
// including after cancel, until they actually end — and not after.
func TestGroupNamedLookup(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		g.Go("foo", func(t *Task) error {
			err := t.Sleep(4 * time.Second)
			return errors.Join(err, Shield(t, func(t *Task) error { return t.Sleep(500 * time.Millisecond) }))
		})
		if g.Task("not me") != nil {
			return errors.New("found a task never created")
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		g.Task("foo").Cancel()
		for g.Task("foo") != nil {
			r.note("foo still running")
			if err := t.Sleep(200 * time.Millisecond); err != nil {
				return err
			}
		}
		r.note("foo gone")
		msg := mustPanicString(func() {
			g.Go("bar", func(t *Task) error { return t.Sleep(time.Second) })
			g.Go("bar", func(t *Task) error { return nil })
		})
		if !strings.Contains(msg, `"bar" is already running`) {
			return fmt.Errorf("duplicate name: panic %q", msg)
		}
		return g.Wait(t)
	})
	r.want(t, "foo still running@1s", "foo still running@1.2s", "foo still running@1.4s", "foo gone@1.6s")
}

func mustPanicString(fn func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	fn()
	return "no panic"
}

// Children are independent by default; errors come back joined and named,
// once; ErrCancelled is not an error. Each failure is also logged and
// counted when it happens.
func TestGroupErrors(t *testing.T) {
	l, _, logs := virtualLoop()
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		g.Go("ok", func(t *Task) error { return t.Sleep(2 * time.Second) })
		g.Go("bad", func(t *Task) error { return errors.New("sensor gone") })
		g.Go("cancelled", func(t *Task) error { return t.Sleep(time.Hour) })
		if err := t.Yield(); err != nil {
			return err
		}
		g.Task("cancelled").Cancel()
		err := g.Wait(t)
		if err == nil || err.Error() != "bad: sensor gone" {
			return fmt.Errorf("Wait = %v", err)
		}
		return g.Wait(t) // errors are reported once
	})
	if n := logs.count(`msg="loop: group child failed" task=bad owner=main err="sensor gone"`); n != 1 {
		t.Fatalf("the failure logged %d times, want once:\n%s", n, logs)
	}
	if n := l.Stats().ChildFailures; n != 1 {
		t.Fatalf("ChildFailures = %d, want 1", n)
	}
}

func TestGroupFailFast(t *testing.T) {
	l, vc, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		g := NewGroup(t, FailFast())
		g.Go("long", func(t *Task) error { return t.Sleep(time.Hour) })
		g.Go("failing", func(t *Task) error {
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			return errors.New("broken")
		})
		err := g.Wait(t)
		if err == nil || err.Error() != "failing: broken" || vc.Elapsed() != time.Second {
			return fmt.Errorf("Wait = %v at %v", err, vc.Elapsed())
		}
		return nil
	})
}

// The seed's gather_test: results in order, each job with its own error; a
// job that times out does not disturb the others.
func TestGather(t *testing.T) {
	l, vc, _ := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		var jobs []Job[any]
		for n := range 4 {
			jobs = append(jobs, Job[any]{Fn: func(t *Task) (any, error) {
				if err := t.Sleep(3*time.Second - time.Duration(n)*100*time.Millisecond); err != nil {
					return nil, err
				}
				r.note(fmt.Sprint("gath01 ", n))
				return n, nil
			}})
		}
		jobs = append(jobs,
			Job[any]{Name: "gath02", Fn: func(t *Task) (any, error) {
				if err := t.Sleep(7 * time.Second); err != nil {
					return nil, err
				}
				r.note("gath02")
				return [2]int{56, 77}, nil
			}},
			Job[any]{Name: "gath03", Timeout: 5 * time.Second, Fn: func(t *Task) (any, error) {
				count := 0
				for {
					if err := t.Sleep(time.Second); err != nil {
						r.note(fmt.Sprint("gath03 ", err))
						return count, err
					}
					count++
				}
			}},
			Job[any]{Name: "failing", Fn: func(t *Task) (any, error) { return nil, errors.New("no sensor") }},
		)
		res, err := Gather(t, jobs...)
		if err != nil {
			return err
		}
		got := fmt.Sprint(res)
		want := "[{0 <nil>} {1 <nil>} {2 <nil>} {3 <nil>} {[56 77] <nil>} {4 loop: timed out after 5s} {<nil> no sensor}]"
		if got != want {
			return fmt.Errorf("results\n got  %s\n want %s", got, want)
		}
		return nil
	})
	r.want(t, "gath01 3@2.7s", "gath01 2@2.8s", "gath01 1@2.9s", "gath01 0@3s",
		"gath03 loop: timed out after 5s@5s", "gath02@7s")
}

// Gathering while cancelled cancels the jobs and waits for them.
func TestGatherCancelled(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var res []Result[int]
		g := l.Go("gatherer", func(t *Task) error {
			var err error
			res, err = Gather(t,
				Job[int]{Fn: func(t *Task) (int, error) { return 1, nil }},
				Job[int]{Fn: func(t *Task) (int, error) { return 2, t.Sleep(time.Hour) }})
			return err
		})
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		g.Cancel()
		if err := g.Wait(t); !errors.Is(err, ErrCancelled) {
			return fmt.Errorf("Gather = %v", err)
		}
		if fmt.Sprint(res) != "[{1 <nil>} {2 loop: task cancelled}]" {
			return fmt.Errorf("results %v", res)
		}
		return nil
	})
}

// A cancelled child that also reports a cleanup failure is not mistaken for
// a plain cancellation: the failure reaches the group's owner.
func TestGroupKeepsCleanupErrorsOfCancelledChildren(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		g := NewGroup(t)
		g.Go("plain", func(t *Task) error { return fmt.Errorf("reading: %w", t.Sleep(time.Hour)) })
		g.Go("leaky", func(t *Task) error {
			return errors.Join(t.Sleep(time.Hour), errors.New("port did not close"))
		})
		if err := t.Yield(); err != nil {
			return err
		}
		err := g.Stop(t)
		if err == nil || !strings.Contains(err.Error(), "leaky: ") || strings.Contains(err.Error(), "plain") {
			return fmt.Errorf("Stop = %v; want only the leaky child's failure", err)
		}
		return nil
	})
}

// In a group whose tasks never end, a child that fails is seen when it
// fails: at 1 s of virtual time, with its sibling asleep for an hour, the
// failure is logged with the child's name and error and counted, and the
// owner's OnChildFailure function has been called.
func TestGroupChildFailureSeenAtOnce(t *testing.T) {
	l, vc, logs := virtualLoop()
	var seen []string
	run(t, l, func(t *Task) error {
		g := NewGroup(t, OnChildFailure(func(c *Task, err error) {
			seen = append(seen, fmt.Sprintf("%s: %v@%v", c.Name(), err, vc.Elapsed()))
		}))
		g.Go("sleeper", func(t *Task) error { return t.Sleep(time.Hour) })
		g.Go("sensor", func(t *Task) error {
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			return errors.New("bus NACK")
		})
		if err := t.Sleep(time.Second); err != nil { // main's timer fires before the sensor's
			return err
		}
		if err := t.Yield(); err != nil { // the sensor fails
			return err
		}
		if vc.Elapsed() != time.Second || l.Stats().ChildFailures != 1 ||
			logs.count(`msg="loop: group child failed" task=sensor owner=main err="bus NACK"`) != 1 ||
			fmt.Sprint(seen) != "[sensor: bus NACK@1s]" {
			return fmt.Errorf("at %v: %d failures counted, hook saw %v, logs:\n%s",
				vc.Elapsed(), l.Stats().ChildFailures, seen, logs)
		}
		return g.Stop(t)
	})
}

// A supervisor restarts a failing child under the same name from the
// OnChildFailure hook: the hook runs after the child left the group, the
// restarted child is found by name, the failures it handled are not
// returned again by Wait, and a child stopped on purpose is not restarted.
func TestGroupSupervisorRestartsChild(t *testing.T) {
	l, vc, logs := virtualLoop()
	r := &recorder{vc: vc}
	run(t, l, func(t *Task) error {
		var g *Group
		runs := 0
		device := func(t *Task) error {
			runs++
			if runs == 4 {
				return t.Sleep(time.Hour) // healthy at last
			}
			if err := t.Sleep(time.Second); err != nil {
				return err
			}
			return fmt.Errorf("serial port vanished (run %d)", runs)
		}
		g = NewGroup(t, OnChildFailure(func(c *Task, err error) {
			if g.Task(c.Name()) != nil {
				r.note("name still taken")
			}
			r.note(fmt.Sprintf("restart %s after %q", c.Name(), err))
			g.Go(c.Name(), device)
		}))
		g.Go("uart", device)
		if err := t.Sleep(10 * time.Second); err != nil {
			return err
		}
		if g.Len() != 1 || g.Task("uart") == nil || runs != 4 {
			return fmt.Errorf("%d children, uart %v, %d runs", g.Len(), g.Task("uart"), runs)
		}
		err := g.Stop(t) // the healthy run is cancelled: no restart
		if err != nil || runs != 4 {
			return fmt.Errorf("Stop = %v after %d runs; want nil (the failures were the hook's), 4", err, runs)
		}
		return nil
	})
	r.want(t, `restart uart after "serial port vanished (run 1)"@1s`,
		`restart uart after "serial port vanished (run 2)"@2s`,
		`restart uart after "serial port vanished (run 3)"@3s`)
	if n := l.Stats().ChildFailures; n != 3 || logs.count("loop: group child failed") != 3 {
		t.Fatalf("%d failures counted, %d logged; want 3, 3", n, logs.count("loop: group child failed"))
	}
}

// A cancelled child whose cleanup fails is not handed to the hook (nobody
// restarts what is being stopped); its failure goes to Stop. A panicking
// hook is logged and the loop goes on.
func TestGroupHookSkipsCancelledChildrenAndSurvivesPanics(t *testing.T) {
	l, _, logs := virtualLoop()
	run(t, l, func(t *Task) error {
		hooked := 0
		g := NewGroup(t, OnChildFailure(func(c *Task, err error) {
			hooked++
			panic("supervisor bug")
		}))
		g.Go("leaky", func(t *Task) error {
			return errors.Join(t.Sleep(time.Hour), errors.New("port did not close"))
		})
		g.Go("broken", func(t *Task) error { return errors.New("broken") })
		if err := t.Yield(); err != nil {
			return err
		}
		err := g.Stop(t)
		if hooked != 1 || err == nil || !strings.Contains(err.Error(), "leaky: ") || strings.Contains(err.Error(), "broken") {
			return fmt.Errorf("hook called %d times, Stop = %v; want 1 (broken), only leaky's failure", hooked, err)
		}
		return nil
	})
	if !strings.Contains(logs.String(), `callback panicked" panic="supervisor bug"`) {
		t.Fatalf("the hook's panic was not logged:\n%s", logs)
	}
}

// In a FailFast group the hook is called too, but the failure stays Wait's:
// it is why the rest were cancelled. Closed reports the owner's return.
func TestGroupFailFastKeepsHookedFailure(t *testing.T) {
	l, _, logs := virtualLoop()
	var g *Group
	run(t, l, func(t *Task) error {
		hooked := 0
		g = NewGroup(t, FailFast(), OnChildFailure(func(*Task, error) { hooked++ }))
		g.Go("long", func(t *Task) error { return t.Sleep(time.Hour) })
		g.Go("failing", func(t *Task) error { return errors.New("broken") })
		err := g.Wait(t)
		if hooked != 1 || err == nil || err.Error() != "failing: broken" || g.Closed() {
			return fmt.Errorf("hook called %d times, Wait = %v, closed %v", hooked, err, g.Closed())
		}
		return nil
	})
	if !g.Closed() {
		t.Fatal("Closed = false after the owner returned")
	}
	if strings.Contains(logs.String(), "group child failed") {
		t.Fatalf("a FailFast group's failure was logged, though Wait returns it at once:\n%s", logs)
	}
}

// A group whose owner has returned takes no new children, even when it had
// none left running (a child must never outlive its owner).
func TestGroupGoAfterOwnerReturnedPanics(t *testing.T) {
	l, _, _ := virtualLoop()
	run(t, l, func(t *Task) error {
		var g *Group
		owner := l.Go("owner", func(t *Task) error { g = NewGroup(t); return nil })
		if err := owner.Wait(t); err != nil {
			return err
		}
		msg := mustPanicString(func() { g.Go("late", func(t *Task) error { return nil }) })
		if !g.Closed() || !strings.Contains(msg, `after the group's owner "owner" returned`) {
			return fmt.Errorf("closed %v, panic %q", g.Closed(), msg)
		}
		return nil
	})
}
