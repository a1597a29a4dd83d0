package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/loop"
)

const baseConfig = `
mqtt:
  brokers: [BROKER]
  node_id: test
  keepalive: 5s
  backoff: {min: 100ms, max: 1s}
  status_interval: 0s
homeassistant: {device_name: Test}
state_dir: STATE_DIR
devices:
  - name: bell
    type: pushbutton
    pin: GPIO17
    simulate: {gestures: [single, double, long], every: 10s}
  - name: relay
    type: relay
    pin: GPIO23
    simulate: true
`

// event reads an event payload.
type eventMsg struct {
	Type string `json:"event_type"`
	Time string `json:"time"`
}

// only returns the messages on topic.
func only(ms []msg, topic string) []msg {
	var out []msg
	for _, m := range ms {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

func events(ms []msg) []eventMsg {
	var out []eventMsg
	for _, m := range ms {
		var e eventMsg
		if json.Unmarshal([]byte(m.Payload), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// The simulated doorbell's gestures become one Home Assistant event each,
// stamped with the (virtual) time they were recognised, in order; the
// discovery config announces the event entity with its types.
func TestGesturesBecomeEvents(t *testing.T) {
	h := start(t, baseConfig)
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "homeassistant/device/test/config", func(p string) bool {
			return strings.Contains(p, `"bell":{"platform":"event"`) && strings.Contains(p, `"event_types":["single","double","long"]`)
		}); err != nil {
			return err
		}
		start := t.Loop().Now()
		if err := t.Sleep(32 * time.Second); err != nil { // gestures at 10, 20 and 30 s
			return err
		}
		if err := h.waitFor(t, "three events", func(ms []msg) bool { return len(events(only(ms, "edgeagent/test/bell/event"))) >= 3 }); err != nil {
			return err
		}
		got := events(h.messages("edgeagent/test/bell/event"))
		want := []struct {
			typ string
			at  time.Duration
		}{
			{"single", 10*time.Second + 400*time.Millisecond}, // after the double-click window
			{"double", 20*time.Second + 200*time.Millisecond}, // at the second press
			{"long", 31 * time.Second},                        // while still held
		}
		if len(got) != len(want) {
			return fmt.Errorf("events %+v, want %d", got, len(want))
		}
		for i, w := range want {
			at := start.Add(w.at).UTC().Format(TimeFormat)
			if got[i].Type != w.typ || got[i].Time != at {
				return fmt.Errorf("event %d = %+v, want %s at %s", i, got[i], w.typ, at)
			}
		}
		for _, m := range h.messages("edgeagent/test/bell/event") {
			if m.Retained {
				return fmt.Errorf("event retained: %+v", m)
			}
		}
		return nil
	})
}

// A set command switches the relay's pin, and then its new state is
// published (retained); a command the relay cannot read is reported on the
// node's error topic and changes nothing.
func TestSetSwitchesRelay(t *testing.T) {
	h := start(t, baseConfig)
	relay := h.a.devs["relay"].dev.(*outputDev)
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		if relay.sim.Read() != gpio.Low {
			return fmt.Errorf("pin %v before the command, want Low", relay.sim.Read())
		}
		if err := realWait(t, func(context.Context) error {
			h.publish("edgeagent/test/relay/set", "ON")
			return nil
		}); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "ON" }); err != nil {
			return err
		}
		if relay.sim.Read() != gpio.High {
			return fmt.Errorf("pin %v after ON, want High", relay.sim.Read())
		}
		if err := realWait(t, func(context.Context) error {
			h.publish("edgeagent/test/relay/set", "HALF")
			return nil
		}); err != nil {
			return err
		}
		if err := h.waitPayload(t, "edgeagent/test/error", func(p string) bool {
			return strings.Contains(p, `"source":"relay"`) && strings.Contains(p, `expected ON, OFF or TOGGLE, got \"HALF\"`)
		}); err != nil {
			return err
		}
		if relay.sim.Read() != gpio.High || !relay.on {
			return fmt.Errorf("a bad command changed the relay")
		}
		for _, m := range h.messages("edgeagent/test/relay/state") {
			if !m.Retained && value(m.Payload) == nil {
				return fmt.Errorf("state payload %q has no value", m.Payload)
			}
		}
		return nil
	})
}

// flakyHardware fails to open a pin a number of times, then gives a
// simulated one.
type flakyHardware struct {
	fails int // failures left; only touched on the loop
	pin   *gpiotest.Pin
}

func (f *flakyHardware) Pin(name string) (gpio.PinIO, error) {
	if f.fails > 0 {
		f.fails--
		return nil, fmt.Errorf("pin %s: test: no such line", name)
	}
	return f.pin, nil
}

func (f *flakyHardware) I2C(name string) (i2c.BusCloser, error) {
	return nil, fmt.Errorf("I2C bus %s: %w", name, ErrNoHardware)
}

// status asks the agent for its status.
func (h *harness) statusOn(t *loop.Task) (Status, error) {
	r, err := h.callOn(t, MethodStatus, nil)
	if err != nil {
		return Status{}, err
	}
	var s Status
	if err := json.Unmarshal(r.Result, &s); err != nil {
		return Status{}, fmt.Errorf("status %s: %w", r.Result, err)
	}
	return s, nil
}

// A device whose hardware cannot be opened is that device's error: logged
// by name, shown on the status and in its availability, and retried with
// back-off (1 s, then 2 s) until it works, while the other devices go on.
// It is never silently simulated.
func TestFailingDeviceRestartedWhileOthersGoOn(t *testing.T) {
	hw := &flakyHardware{fails: 2, pin: &gpiotest.Pin{N: "GPIO5"}}
	h := start(t, baseConfig+`
  - name: pump
    type: output
    pin: GPIO5
`, WithHardware(hw))
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		if err := t.Sleep(500 * time.Millisecond); err != nil {
			return err
		}
		s, err := h.statusOn(t)
		if err != nil {
			return err
		}
		if p := s.Devices["pump"]; p.State != StateRestarting || !strings.Contains(p.Error, "test: no such line") || p.Failures != 1 {
			return fmt.Errorf("pump while failing: %+v", p)
		}
		if s.Failing != 1 || s.Devices["relay"].State != StateRunning {
			return fmt.Errorf("status while the pump fails: %+v", s)
		}
		if err := t.Sleep(12 * time.Second); err != nil {
			return err
		}
		if s, err = h.statusOn(t); err != nil {
			return err
		}
		if p := s.Devices["pump"]; p.State != StateRunning || p.Failures != 2 || p.Restarts != 2 || p.Error != "" {
			return fmt.Errorf("pump after recovery: %+v", p)
		}
		if err := h.waitPayload(t, "edgeagent/test/pump/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		// The bell went on meanwhile: its first gesture at 10 s.
		if err := h.waitPayload(t, "edgeagent/test/bell/event", func(p string) bool { return strings.Contains(p, "single") }); err != nil {
			return err
		}
		var avail []string
		for _, m := range h.messages("edgeagent/test/pump/availability") {
			avail = append(avail, m.Payload)
		}
		if len(avail) == 0 || avail[0] != "offline" || avail[len(avail)-1] != "online" {
			return fmt.Errorf("pump availability %v, want offline … online", avail)
		}
		// The node stayed online throughout: only the pump's entities (whose
		// discovery lists both topics, availability_mode all) went unavailable.
		for _, m := range h.messages("edgeagent/test/availability") {
			if m.Payload != "online" {
				return fmt.Errorf("the node's availability went %q while one device failed", m.Payload)
			}
		}
		if !h.logs.has("device failed; restarting", "device=pump", "test: no such line") {
			return fmt.Errorf("the failure was not logged by name")
		}
		return nil
	})
}

// A reload with a bad configuration is refused with every error and the
// running configuration kept; a good one is applied: a new device starts,
// the unchanged ones go on untouched, discovery is published again because
// it changed — on the running connection, which a change of devices does not
// restart — and not when it did not.
func TestReloadGoodAndBad(t *testing.T) {
	h := start(t, baseConfig)
	bell := h.a.devs["bell"]
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		h.writeConfig(baseConfig + "  - {name: lamp, type: relay, pin: GPIO23, simulate: true, colour: red}\n")
		r, err := h.callOn(t, MethodReload, nil)
		if err != nil {
			return err
		}
		if !strings.Contains(r.Error, "config.yaml:19:") || !strings.Contains(r.Error, "GPIO23") ||
			!strings.Contains(r.Error, "colour: unknown key") || !strings.Contains(r.Error, "running one is kept") {
			return fmt.Errorf("bad reload replied %+v", r)
		}
		if _, ok := h.a.devs["lamp"]; ok || h.a.cfg.Devices[len(h.a.cfg.Devices)-1].Name != "relay" {
			return fmt.Errorf("the bad configuration was applied")
		}
		announced := len(h.messages("homeassistant/device/test/config"))

		b0 := h.a.b
		h.writeConfig(baseConfig + "  - {name: lamp, type: relay, pin: GPIO24, simulate: true}\n")
		if r, err = h.callOn(t, MethodReload, nil); err != nil {
			return err
		}
		if r.Error != "" || !containsJSON(r.Result, "device lamp added") || !containsJSON(r.Result, "discovery updated") ||
			containsJSON(r.Result, "reconnected") {
			return fmt.Errorf("good reload replied %+v %s", r, r.Result)
		}
		if err := h.waitPayload(t, "edgeagent/test/lamp/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		if err := h.waitFor(t, "discovery with the lamp", func(ms []msg) bool {
			c := only(ms, "homeassistant/device/test/config")
			return len(c) > announced && strings.Contains(c[len(c)-1].Payload, `"lamp":{"platform":"switch"`)
		}); err != nil {
			return err
		}
		if h.a.devs["bell"] != bell || bell.restarts != 0 || bell.state != StateRunning {
			return fmt.Errorf("an unchanged device was restarted")
		}
		// Devices only: the connection went on — no new bridge, no second
		// connect, the node never offline.
		if h.a.b != b0 || h.a.b.Stats().Connects != 1 {
			return fmt.Errorf("adding a device replaced the bridge or reconnected (connects %d)", h.a.b.Stats().Connects)
		}
		for _, m := range h.messages("edgeagent/test/availability") {
			if m.Payload != "online" {
				return fmt.Errorf("the node went %q during a reload that only added a device", m.Payload)
			}
		}
		b := h.a.b
		announced = len(h.messages("homeassistant/device/test/config"))
		if r, err = h.callOn(t, MethodReload, nil); err != nil {
			return err
		}
		if r.Error != "" || !containsJSON(r.Result, `"changes":null`) {
			return fmt.Errorf("reload of the same file replied %+v %s", r, r.Result)
		}
		if _, err := h.callOn(t, MethodPing, nil); err != nil {
			return err
		}
		if h.a.b != b || len(h.messages("homeassistant/device/test/config")) != announced {
			return fmt.Errorf("an unchanged configuration announced discovery again")
		}
		// SIGHUP's way, with a bad file: refused and logged.
		h.writeConfig("mqtt: {brokers: [BROKER]}\ndevices: [{name: x}]\n")
		h.a.Reload()
		for !h.logs.has("reload refused") {
			if err := t.Sleep(10 * time.Millisecond); err != nil {
				return err
			}
		}
		if len(h.a.devs) != 3 {
			return fmt.Errorf("devices after a refused reload: %v", h.a.order)
		}
		return nil
	})
}

// stubborn is a device whose run does not end in time when cancelled.
type stubborn struct{ outputDev }

func (s *stubborn) run(t *loop.Task, env *devEnv) error {
	env.ready()
	var never loop.WaitQueue
	err := never.Wait(t)
	// A cleanup that waits for something that never comes, until the loop
	// kills the task at its own shutdown timeout.
	serr := loop.Shield(t, func(t *loop.Task) error {
		_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
			<-ctx.Done()
			return struct{}{}, ctx.Err()
		})
		return err
	})
	return errors.Join(err, serr)
}

// A stop that cannot finish within shutdown_timeout ends Run with an error
// saying what was still going on (the command exits non-zero with it);
// a graceful one returns nil (TestFailingDevice… and the others).
func TestShutdownPastTheDeadline(t *testing.T) {
	h := startHook(t, baseConfig+"shutdown_timeout: 300ms\n", func(a *Agent) {
		a.devs["relay"].dev = &stubborn{}
	}, WithClock(loop.RealClock()))
	h.on(func(t *loop.Task) error {
		return h.waitPayload(t, "edgeagent/test/relay/availability", func(p string) bool { return p == "online" })
	})
	err := h.shutdown()
	if err == nil || !strings.Contains(err.Error(), "shutdown took longer than 300ms: still stopping the devices") {
		t.Fatalf("Run returned %v", err)
	}
}

// A reload that moves the agent to another broker keeps what waited in the
// outbox for the old one: events published while the first broker was away
// reach the second after the reload, in order.
func TestReloadKeepsQueuedMessages(t *testing.T) {
	// The clock is held until h.on (holdClock): the three knocks come after
	// the first broker is gone.
	h := start(t, baseConfig+`
  - name: knock
    type: pushbutton
    pin: GPIO5
    publish: {delivery: all}
    simulate: {gestures: [single], every: 10s}
`)
	second := serveBroker(t)
	got := make(chan string, 16)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(second.URL()).SetClientID("second-observer").SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(0)
	if tok := c.Subscribe("edgeagent/test/knock/event", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(waitLimit) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	h.on(func(t *loop.Task) error {
		if err := h.waitPayload(t, "edgeagent/test/relay/state", func(p string) bool { return value(p) == "OFF" }); err != nil {
			return err
		}
		// The clock stands still until the bridge has seen the broker go: a
		// knock published while it still counted as connected could be
		// acknowledged by the closing broker and never reach the second one.
		gone := h.disconnected()
		if err := realWait(t, func(ctx context.Context) error {
			if err := h.broker.Close(); err != nil {
				return err
			}
			select {
			case <-gone:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("the bridge did not see the broker go: %w", ctx.Err())
			}
		}); err != nil {
			return err
		}
		if now := t.Loop().Now(); now.After(loop.VirtualEpoch().Add(10 * time.Second)) {
			return fmt.Errorf("the broker went away at %v, after the first knock", now)
		}
		if err := t.Sleep(31 * time.Second); err != nil { // three knocks, the broker away
			return err
		}
		cfg := strings.Replace(baseConfig, "BROKER", second.URL(), 1) + `
  - name: knock
    type: pushbutton
    pin: GPIO5
    publish: {delivery: all}
    simulate: {gestures: [single], every: 10s}
`
		h.writeConfig(cfg)
		h.a.Reload()
		return realWait(t, func(ctx context.Context) error {
			var times []string
			for len(times) < 3 {
				select {
				case p := <-got:
					var e eventMsg
					if err := json.Unmarshal([]byte(p), &e); err != nil {
						return err
					}
					times = append(times, e.Time)
				case <-ctx.Done():
					return fmt.Errorf("events on the second broker: %v", times)
				}
			}
			want := []string{"2000-01-01T00:00:10.400Z", "2000-01-01T00:00:20.400Z", "2000-01-01T00:00:30.400Z"}
			if strings.Join(times, " ") != strings.Join(want, " ") {
				return fmt.Errorf("events %v, want %v", times, want)
			}
			return nil
		})
	})
}
