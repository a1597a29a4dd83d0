package agent

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// The nec_ir device's simulated remote presses its keys, and the agent
// decodes every burst into the configured key's event — on the virtual
// clock, and on the real clock, where the remote's sleeps end late and its
// edges are stamped with the times the script gives them. On the real
// clock nothing waits a fixed time: the test waits for the events, with a
// deadline.
func TestSimulatedRemoteKeys(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(fmt.Sprintf("real=%v", real), func(t *testing.T) {
			var opts []Option
			if real {
				opts = append(opts, WithClock(loop.RealClock()))
			}
			h := start(t, `
mqtt:
  brokers: [BROKER]
  node_id: test
  status_interval: 0s
state_dir: STATE_DIR
devices:
  - name: remote
    type: nec_ir
    pin: GPIO25
    keys: {power: 0x0408, volume_up: 0x0402}
    simulate: {sequence: [power, volume_up], every: 200ms}
`, opts...)
			h.on(func(t *loop.Task) error {
				if !real {
					// Virtual time for the remote's first presses; the
					// wait below holds the virtual clock.
					if err := t.Sleep(time.Second); err != nil {
						return err
					}
				}
				if err := h.waitFor(t, "power, volume_up", func(ms []msg) bool {
					es := events(only(ms, "edgeagent/test/remote/event"))
					return len(es) >= 2 && es[0].Type == "power" && es[1].Type == "volume_up"
				}); err != nil {
					return err
				}
				r, err := h.callOn(t, MethodRead, "remote")
				if err != nil {
					return err
				}
				var got struct {
					Now irReading `json:"now"`
				}
				if r.Error != "" || json.Unmarshal(r.Result, &got) != nil {
					return fmt.Errorf("read remote: %+v %s", r, r.Result)
				}
				if got.Now.Frames < 2 || got.Now.Errors != 0 {
					return fmt.Errorf("read remote: %s: want 2 frames or more and no decode errors", r.Result)
				}
				return nil
			})
		})
	}
}
