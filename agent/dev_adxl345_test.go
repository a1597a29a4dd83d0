package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/loop"
)

// At its default interval an idle accelerometer is read once a second —
// FIFO_STATUS and the samples kept since the last poll — and a shake
// between two polls still turns motion on.
func TestADXL345ReadsTheFIFOOnceASecond(t *testing.T) {
	// The 25 s below count from the first poll: the clock is held until
	// h.on (holdClock).
	h := start(t, `
mqtt:
  brokers: [BROKER]
  node_id: test
  status_interval: 0s
state_dir: STATE_DIR
devices:
  - name: tilt
    type: adxl345
    simulate: {noise: 0.001, shake_every: 20s}
`)
	h.on(func(t *loop.Task) error {
		if err := t.Sleep(25 * time.Second); err != nil {
			return err
		}
		sim := h.a.devs["tilt"].dev.(*adxl345Dev).sim
		start := sim.Ops()[0].At
		var polls []time.Duration
		for _, op := range sim.Ops() {
			if at := op.At.Sub(start); len(op.W) == 1 && op.W[0] == adxl345.RegFIFOStatus && at >= 10*time.Second {
				polls = append(polls, at.Round(time.Millisecond))
			}
		}
		if len(polls) != 15 || polls[1]-polls[0] != time.Second || polls[14]-polls[0] != 14*time.Second {
			return fmt.Errorf("FIFO read at %v from 10 s on; want once a second", polls)
		}
		return h.waitPayload(t, "edgeagent/test/tilt_motion/state", func(p string) bool { return value(p) == "ON" })
	})
}
