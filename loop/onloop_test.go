package loop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// OnLoop is true in tasks, posted functions, timer and CallSoon callbacks
// and group hooks, and false on every other goroutine: one a task started,
// an Offload call, a goroutine posting to the loop, the test's own before
// and after Run.
func TestOnLoop(t *testing.T) {
	l, _, _ := virtualLoop()
	var got []string
	note := func(where string) { got = append(got, fmt.Sprintf("%s=%v", where, l.OnLoop())) }
	before := l.OnLoop()
	run(t, l, func(t *Task) error {
		note("task")
		l.CallSoon(func() { note("CallSoon") })
		var q WaitQueue
		posted := false
		go func() {
			onLoop := l.OnLoop()
			_ = l.Post(func() {
				note("posted")
				got = append(got, fmt.Sprintf("goroutine=%v", onLoop))
				posted = true
				q.WakeAll()
			})
		}()
		for !posted {
			if err := q.Wait(t); err != nil {
				return err
			}
		}
		offloaded, err := Offload(t, func(context.Context) (bool, error) { return l.OnLoop(), nil })
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("Offload=%v", offloaded))
		g := NewGroup(t, OnChildFailure(func(*Task, error) { note("hook"); q.WakeAll() }))
		g.Go("failing", func(t *Task) error { return errors.New("x") })
		if err := q.Wait(t); err != nil {
			return err
		}
		l.CallLater(time.Second, func() { note("CallLater") })
		return t.Sleep(2 * time.Second)
	})
	slices.Sort(got) // posts, callbacks and the goroutine interleave as they may
	want := "CallLater=true CallSoon=true Offload=false goroutine=false hook=true posted=true task=true"
	if strings.Join(got, " ") != want || before || l.OnLoop() {
		t.Fatalf("got %s (before Run %v, after %v)\nwant %s", strings.Join(got, " "), before, l.OnLoop(), want)
	}
}
