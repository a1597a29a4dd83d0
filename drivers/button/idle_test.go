package button_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// countingPin counts the reads of a gpiotest pin.
type countingPin struct {
	gpiotest.Pin
	reads atomic.Int64
}

func (p *countingPin) Read() gpio.Level {
	p.reads.Add(1)
	return p.Pin.Read()
}

// idleMinute runs a button on pin, idle for a virtual minute, and returns
// how many timers the loop fired and how often the pin was read meanwhile.
func idleMinute(t *testing.T, pin *countingPin, opts ...gpioin.Option) (timers uint64, reads int64, mode gpioin.Mode) {
	t.Helper()
	b, err := button.New(pin, button.WithInput(append(opts, gpioin.WithWakeInterval(10*time.Millisecond))...))
	if err != nil {
		t.Fatal(err)
	}
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		l := tk.Loop()
		g := loop.NewGroup(tk)
		g.Go("button", b.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		s0, r0 := l.Stats(), pin.reads.Load()
		if err := tk.Sleep(time.Minute); err != nil {
			return err
		}
		s1, r1 := l.Stats(), pin.reads.Load()
		timers, reads, mode = s1.TimersFired-s0.TimersFired, r1-r0, b.Input().Mode()
		return g.Stop(tk)
	})
	return timers, reads, mode
}

// An idle edge-driven button costs the loop nothing: in a minute, the only
// timer that fires is the test's own sleep and the pin is never read (the
// goroutine reads it only after an edge). A polled one wakes the loop and
// reads the pin every period — the cost the peers' users complain of.
func TestIdleEdgeButtonDoesNoWork(t *testing.T) {
	pin := &countingPin{Pin: gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level)}}
	timers, reads, mode := idleMinute(t, pin)
	if mode != gpioin.Edges || timers != 1 || reads != 0 {
		t.Fatalf("edge mode: %v, %d timers fired, %d reads in an idle minute; want edges, 1 (the test's sleep), 0", mode, timers, reads)
	}

	polled := &countingPin{Pin: gpiotest.Pin{N: "GPIO18", EdgesChan: make(chan gpio.Level)}}
	timers, reads, mode = idleMinute(t, polled, gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(10*time.Millisecond))
	// 6000 polls' timers and the test's fire at or before the minute; the
	// test's task runs first at the minute, so the last read comes after it.
	if mode != gpioin.Polling || timers != 6001 || reads != 5999 {
		t.Fatalf("polling: %v, %d timers, %d reads; want polling, 6001, 5999", mode, timers, reads)
	}
}
