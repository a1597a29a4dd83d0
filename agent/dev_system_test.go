package agent

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// The system device publishes the host's readings and the agent's own
// health: a simulated CPU temperature stays in its range with the thermal
// zone's millidegree resolution, the agent's memory is its real RSS in MB,
// and device_errors counts the devices failing now.
func TestSystemDeviceReadings(t *testing.T) {
	h := start(t, `
mqtt:
  brokers: [BROKER]
  node_id: test
  status_interval: 0s
state_dir: STATE_DIR
devices:
  - name: host
    type: system
    interval: 10s
    simulate: {cpu_temperature: [45, 60]}
`)
	h.on(func(t *loop.Task) error {
		if err := t.Sleep(25 * time.Second); err != nil { // three readings
			return err
		}
		number := func(metric string, ok func(float64) bool) error {
			return h.waitPayload(t, "edgeagent/test/host_"+metric+"/state", func(p string) bool {
				v, isNum := value(p).(float64)
				return isNum && ok(v)
			})
		}
		temps := 0
		for _, m := range h.messages("edgeagent/test/host_cpu_temperature/state") {
			v, ok := value(m.Payload).(float64)
			if !ok || v < 45 || v > 60 {
				return fmt.Errorf("cpu_temperature %q: want a number in [45, 60]", m.Payload)
			}
			if milli := v * 1000; math.Abs(milli-math.Round(milli)) > 1e-6 {
				return fmt.Errorf("cpu_temperature %v: finer than the millidegrees a thermal zone reads", v)
			}
			temps++
		}
		if temps == 0 {
			return fmt.Errorf("no cpu_temperature published:\n%s", h.dump())
		}
		if err := number("memory", func(mb float64) bool { return mb > 1 && mb < 1024 }); err != nil {
			return err
		}
		if err := number("uptime", func(s float64) bool { return s > 0 }); err != nil {
			return err
		}
		return number("device_errors", func(n float64) bool { return n == 0 })
	})
}
