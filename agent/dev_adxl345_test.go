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
    publish: {motion: {delivery: all}}   # ON reaches the broker even if OFF follows before it is sent
    simulate: {noise: 0.001, shake_every: 20s}
`)
	h.on(func(t *loop.Task) error {
		if err := t.Sleep(25 * time.Second); err != nil {
			return err
		}
		// The agent's clock ran on before this task started (virtual time
		// jumps while the agent waits for its broker): look at ten
		// seconds ending half a second ago (a poll due just now may come
		// after this task).
		sim := h.a.devs["tilt"].dev.(*adxl345Dev).sim
		now := t.Loop().Now()
		var polls []time.Duration
		for _, op := range sim.Ops() {
			if ago := now.Sub(op.At); len(op.W) == 1 && op.W[0] == adxl345.RegFIFOStatus && ago >= 500*time.Millisecond && ago < 10500*time.Millisecond {
				polls = append(polls, ago.Round(time.Millisecond))
			}
		}
		if len(polls) != 10 || polls[0]-polls[9] != 9*time.Second {
			return fmt.Errorf("FIFO read %v ago; want once a second, ten times", polls)
		}
		return h.waitPayload(t, "edgeagent/test/tilt_motion/state", func(p string) bool { return value(p) == "ON" })
	})
}
