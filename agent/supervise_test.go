package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// crasher is a device whose run works for a while and then ends the way
// end says: an error, a panic, or a plain return nobody asked for.
type crasher struct {
	outputDev
	after   time.Duration
	end     string
	runs    int
	endedAt time.Time // when the first run ended
}

func (c *crasher) run(t *loop.Task, env *devEnv) error {
	c.runs++
	env.ready()
	if c.runs > 1 {
		var never loop.WaitQueue
		return never.Wait(t) // the restarted run works
	}
	if err := t.Sleep(c.after); err != nil {
		return err
	}
	c.endedAt = env.now()
	switch c.end {
	case "panic":
		panic("sensor on fire")
	case "return":
		return nil
	}
	return errors.New("bus lost")
}

// A device's run that fails is seen the moment it ends — through the
// devices group's OnChildFailure hook, not at a later poll: at that same
// instant of the loop's clock it is shown as restarting with its error, its
// failure counted (its own, the loop's child failures) and logged by name,
// its availability offline, and its restart scheduled a back-off later;
// then it runs again. Whatever way the run ends.
func TestDeviceFailureSeenAtOnce(t *testing.T) {
	for end, wantErr := range map[string]string{"error": "bus lost", "panic": "panic: sensor on fire", "return": "its task ended"} {
		t.Run(end, func(t *testing.T) {
			c := &crasher{after: 5 * time.Second, end: end}
			h := startHook(t, baseConfig, func(a *Agent) { a.devs["relay"].dev = c })
			h.on(func(t *loop.Task) error {
				r := h.a.devs["relay"]
				before := h.a.statusReport().Loop.ChildFailures
				if err := t.Sleep(5500 * time.Millisecond); err != nil { // past the end, before the restart
					return err
				}
				if c.endedAt.IsZero() {
					return fmt.Errorf("the run did not end")
				}
				if r.state != StateRestarting || r.lastErr != wantErr || r.failures != 1 {
					return fmt.Errorf("after the run ended: state %s, error %q, failures %d", r.state, r.lastErr, r.failures)
				}
				if !r.since.Equal(c.endedAt) || !r.retryAt.Equal(c.endedAt.Add(restartMin)) {
					return fmt.Errorf("the failure at %v was seen at %v (restart at %v): not at once", c.endedAt, r.since, r.retryAt)
				}
				if got := h.a.statusReport().Loop.ChildFailures - before; got != 1 {
					return fmt.Errorf("the status counts %d child failures, want 1", got)
				}
				if st := h.a.statusReport().Devices["relay"]; st.State != StateRestarting || st.Error != wantErr || st.Failures != 1 {
					return fmt.Errorf("the status shows the relay as %+v", st)
				}
				if !h.logs.has("device failed; restarting", "device=relay", wantErr) {
					return fmt.Errorf("the failure was not logged by the device's name")
				}
				if err := h.waitPayload(t, "edgeagent/test/relay/availability", func(p string) bool { return p == "offline" }); err != nil {
					return err
				}
				if err := t.Sleep(time.Second); err != nil { // the back-off
					return err
				}
				if c.runs != 2 || r.state != StateRunning || r.restarts != 1 {
					return fmt.Errorf("after the back-off: runs %d, state %s, restarts %d", c.runs, r.state, r.restarts)
				}
				return nil
			})
		})
	}
}

// Periodic work sleeps to the grid of its interval, whatever its phase:
// devices started at different moments wake at the same instants.
func TestSleepAligned(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var got []time.Duration
	err := l.Run(context.Background(), func(t *loop.Task) error {
		epoch := loop.VirtualEpoch()
		g := loop.NewGroup(t)
		for _, start := range []time.Duration{0, 3700 * time.Millisecond, 9999 * time.Millisecond} {
			g.Go("", func(t *loop.Task) error {
				if err := t.Sleep(start); err != nil {
					return err
				}
				for range 2 {
					if err := sleepAligned(t, 10*time.Second); err != nil {
						return err
					}
					got = append(got, t.Loop().Now().Sub(epoch))
				}
				return nil
			})
		}
		return g.Wait(t)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("woke at %v, want %v", got, want)
	}
}
