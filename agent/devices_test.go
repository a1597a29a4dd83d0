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
    publish: {delivery: all}        # every value, not only the latest undelivered one
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
		// The third reading at 20 s failed, and the next one worked. (Its
		// availability went offline and back meanwhile; delivered as latest,
		// only the last may reach the broker.)
		if err := h.waitPayload(t, "edgeagent/test/climate/availability", func(p string) bool { return p == "online" }); err != nil {
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

// The other simulated types: an IR remote's keys become events named by
// the configuration, an accelerometer's shake turns motion on and, after
// the hold, off again; a modem answers the at method and reports its
// signal.
func TestSimulatedRemoteAccelerometerModem(t *testing.T) {
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
    keys: {power: 0x0408, volume_up: {address: 0x04, command: 0x02}}
    simulate: {sequence: [power, volume_up], every: 5s}
  - name: tilt
    type: adxl345
    motion_hold: 3s
    publish: {motion: {delivery: all}}
    simulate: {noise: 0.001, shake_every: 20s}
  - name: modem
    type: at_modem
    port: /dev/ttyUSB2
    signal_interval: 30s
    simulate:
      csq: [20, 20]
      replies: {ATI: [Quectel, EC25]}
`)
	h.on(func(t *loop.Task) error {
		if err := t.Sleep(26 * time.Second); err != nil {
			return err
		}
		if err := h.waitFor(t, "power, volume_up", func(ms []msg) bool {
			es := events(only(ms, "edgeagent/test/remote/event"))
			return len(es) >= 2 && es[0].Type == "power" && es[1].Type == "volume_up"
		}); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/tilt_motion/state", func(p string) bool { return value(p) == "ON" }); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/tilt_z/state", func(p string) bool { v, ok := value(p).(float64); return ok && v > 0.9 && v < 1.1 }); err != nil {
			return err
		}
		// The shake lasts a second from 20 s; motion ends 3 s after it.
		if err := h.waitFor(t, "motion OFF, ON, OFF", func(ms []msg) bool {
			var vs []string
			for _, m := range only(ms, "edgeagent/test/tilt_motion/state") {
				vs = append(vs, fmt.Sprint(value(m.Payload)))
			}
			return strings.Contains(strings.Join(vs, ","), "OFF,ON,OFF")
		}); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/modem_signal/state", func(p string) bool { return value(p) == -73.0 }); err != nil {
			return err
		}
		r, err := h.callOn(t, MethodAt, map[string]string{"command": "ATI"})
		if err != nil {
			return err
		}
		if r.Error != "" || string(r.Result) != `{"command":"ATI","lines":["Quectel","EC25"],"final":"OK"}` {
			return fmt.Errorf("at ATI: %+v %s", r, r.Result)
		}
		if r, err = h.callOn(t, MethodAt, map[string]string{"command": "ATI", "device": "tilt"}); err != nil {
			return err
		}
		if !strings.Contains(r.Error, `"device" must name a modem: modem`) {
			return fmt.Errorf("at on a non-modem: %+v", r)
		}
		if r, err = h.callOn(t, MethodRead, "tilt"); err != nil {
			return err
		}
		if r.Error != "" || !containsJSON(r.Result, `"device":"tilt"`) || !containsJSON(r.Result, `"tilt_z":{"value":`) {
			return fmt.Errorf("read tilt: %+v %s", r, r.Result)
		}
		return nil
	})
}
