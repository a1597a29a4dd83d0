// Package nectest plays NEC infra-red remote-control bursts onto a
// simulated pin, for tests and demos of code that uses the nec receiver:
// a key press, a key held (a frame, then repeat codes every 108 ms), or
// any burst, with the timing jitter of a real remote.
//
// The pin is a gpiointest.Pin standing for the output of an IR receiver
// module: idle high, low during each mark. Bursts are timed on the loop's
// clock, exactly on a virtual one; on the real clock each edge is stamped
// with its scheduled time (gpiointest.Pin.Play), so a burst decodes
// however late the sleeps between its edges end. It must not be used with real
// hardware, and it keeps no package-level state.
package nectest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A Remote sends NEC bursts onto a pin. Its methods are called from a task
// on the loop of the receiver watching the pin; each waits, first, until
// the receiver watches it (gpiointest.Pin.Play), so a test may start
// sending before the receiver's task has run.
type Remote struct {
	Pin *gpiointest.Pin
	// Jitter stretches or shrinks every mark and space by a random factor
	// within ±Jitter (0.1 is ±10 %); 0 sends nominal timings. The receiver
	// decodes anything within ±20 %.
	Jitter float64
	// Rand draws the jitter; nil uses a fixed seed, so runs repeat.
	Rand *rand.Rand
}

// NewRemote returns a remote sending nominal timings onto pin.
func NewRemote(pin *gpiointest.Pin) *Remote { return &Remote{Pin: pin} }

// Send sends one key press: a data frame with address and command — a
// 16-bit (extended) address when address is above 0xff — and waits out the
// rest of the repeat period (108 ms from the frame's start), as a remote
// does before its next burst.
func (r *Remote) Send(t *loop.Task, address uint16, command uint8) error {
	return r.SendFrame(t, nec.Frame{Address: address, Command: command, Extended: address > 0xff})
}

// SendFrame sends f (a repeat code when f.Repeat is set) like Send.
func (r *Remote) SendFrame(t *loop.Task, f nec.Frame) error {
	burst, err := nec.Encode(f)
	if err != nil {
		return fmt.Errorf("nectest: %w", err)
	}
	return r.Play(t, burst)
}

// Repeat sends one repeat code, like Send.
func (r *Remote) Repeat(t *loop.Task) error { return r.SendFrame(t, nec.Frame{Repeat: true}) }

// Hold sends a key held for d: a frame, then a repeat code every repeat
// period until d has passed since the frame started.
func (r *Remote) Hold(t *loop.Task, address uint16, command uint8, d time.Duration) error {
	if err := r.Send(t, address, command); err != nil {
		return err
	}
	for held := nec.RepeatPeriod; held < d; held += nec.RepeatPeriod {
		if err := r.Repeat(t); err != nil {
			return err
		}
	}
	return nil
}

// Play plays any burst of edge times (see package nec: its first edge at
// 0), jittered, then waits out the rest of the repeat period from its
// start, or none if the burst lasted longer. A burst of an odd number of edges leaves the pin low; the next
// burst's first edge is then no edge.
func (r *Remote) Play(t *loop.Task, burst []time.Duration) error {
	if err := r.Pin.WaitWatched(t); err != nil {
		return err
	}
	next := t.Loop().Now().Add(nec.RepeatPeriod)
	if err := r.Pin.Play(t, Steps(r.jitter(burst))...); err != nil {
		return err
	}
	if rest := next.Sub(t.Loop().Now()); rest > 0 {
		return t.Sleep(rest)
	}
	return nil
}

// jitter returns burst with every gap scaled by 1 ± Jitter.
func (r *Remote) jitter(burst []time.Duration) []time.Duration {
	if r.Jitter == 0 || len(burst) == 0 {
		return burst
	}
	if r.Rand == nil {
		r.Rand = rand.New(rand.NewPCG(2018, 726))
	}
	out := make([]time.Duration, len(burst))
	for i := 1; i < len(burst); i++ {
		f := 1 + r.Jitter*(2*r.Rand.Float64()-1)
		out[i] = out[i-1] + time.Duration(float64(burst[i]-burst[i-1])*f)
	}
	return out
}

// Steps returns the levels of a burst on a receiver module's output: low
// from the first edge (a mark), then alternating, at the edges' times.
func Steps(burst []time.Duration) []gpiointest.Step {
	steps := make([]gpiointest.Step, len(burst))
	for i, at := range burst {
		steps[i] = gpiointest.Step{At: at, Level: gpio.Level(i%2 == 1)}
	}
	return steps
}
