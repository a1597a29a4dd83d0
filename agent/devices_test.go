package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// Every simulated device type publishes through the same wiring as on
// hardware: a contact's state at the start and its changes, an HTU21D's
// readings (and a failed one making it unavailable until the next good
// one), lines from a generated port and from a pty anyone can write to.
func TestSimulatedDevices(t *testing.T) {
	link := filepath.Join(t.TempDir(), "meter")
	h := start(t, `
mqtt:
  brokers: [BROKER]
  node_id: test
  status_interval: 0s
state_dir: STATE_DIR
devices:
  - {name: door, type: contact, pin: GPIO27, simulate: {every: 30s}}
  - name: climate
    type: htu21d
    interval: 10s
    simulate: {temperature: [20, 22], humidity: [40, 50], fail_every: 3}
  - name: counter
    type: uart_lines
    port: /dev/ttyUSB9
    match: 'n=(\d+)'
    unit: pulses
    simulate: {lines: ["n=1", "n=2"], every: 5s}
  - name: meter
    type: uart_lines
    port: /dev/ttyUSB8
    as: event
    event_types: [ring, knock]
    simulate: {pty: `+link+`}
`)
	h.on(func(t *loop.Task) error {
		if err := t.Sleep(time.Second); err != nil { // the devices start on virtual time
			return err
		}
		// The contact's state at the start: closed is OFF for a contact.
		if err := h.waitPayload(t, "edgeagent/test/door/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/climate_temperature/state", func(p string) bool { v, ok := value(p).(float64); return ok && v >= 20 && v <= 22 }); err != nil {
			return err
		}
		if err := t.Sleep(31 * time.Second); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/door/state", func(p string) bool { return value(p) == "ON" }); err != nil {
			return err
		}
		if err := h.waitFor(t, "counter 1 and 2", func(ms []msg) bool {
			var vs []string
			for _, m := range only(ms, "edgeagent/test/counter/state") {
				vs = append(vs, fmt.Sprint(value(m.Payload)))
			}
			return strings.Contains(strings.Join(vs, ","), "1,2")
		}); err != nil {
			return err
		}
		// The third reading at 20 s failed: unavailable, then back.
		if err := h.waitFor(t, "climate offline then online", func(ms []msg) bool {
			var av []string
			for _, m := range only(ms, "edgeagent/test/climate/availability") {
				av = append(av, m.Payload)
			}
			return strings.Contains(strings.Join(av, ","), "online,offline,online")
		}); err != nil {
			return err
		}
		if st := h.a.devs["climate"]; st.failures == 0 || st.state != StateRunning {
			return fmt.Errorf("climate: %s, %d failures", st.state, st.failures)
		}
		return realWait(t, func(ctx context.Context) error {
			f, err := os.OpenFile(link, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.WriteString("knock\nhello\nring\n"); err != nil {
				return err
			}
			return h.waitMsgs(ctx, "knock and ring", func(ms []msg) bool {
				es := events(only(ms, "edgeagent/test/meter/event"))
				return len(es) == 2 && es[0].Type == "knock" && es[1].Type == "ring"
			})
		})
	})
}
