package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/loop"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// haNode is a node with one entity of every supported platform; with old,
// it also has a sensor that a later configuration drops.
func haNode(old bool) hass.Node {
	n := hass.Node{
		Device: hass.Device{
			Identifiers: []string{"edgeagent-n1"}, Name: "Node 1", Manufacturer: "edgeagent",
			Model: "Raspberry Pi 4", SWVersion: "1.0.0",
		},
		Origin: hass.Origin{Name: "edgeagent", SWVersion: "1.0.0", SupportURL: "https://github.com/edgeagent/edgeagent"},
		Entities: []hass.Entity{
			hass.Sensor{
				Common:      hass.Common{ID: "temperature", Name: hass.Name("Temperature")},
				DeviceClass: "temperature", Unit: "°C", StateClass: hass.StateClassMeasurement,
				SuggestedDisplayPrecision: hass.Precision(1),
			},
			hass.BinarySensor{Common: hass.Common{ID: "door", Name: hass.Name("Door")}, DeviceClass: "door"},
			hass.Event{
				Common:      hass.Common{ID: "button", Name: hass.Name("Button")},
				DeviceClass: "button", EventTypes: []string{"press", "double", "long"},
			},
			hass.Button{Common: hass.Common{ID: "restart", Name: hass.Name("Restart"), EntityCategory: hass.CategoryConfig}, DeviceClass: "restart"},
			hass.Switch{Common: hass.Common{ID: "relay", Name: hass.Name("Relay")}, DeviceClass: "outlet"},
			hass.Light{Common: hass.Common{ID: "led", Name: hass.Name("LED")}, ColorModes: []string{hass.ColorModeBrightness}},
		},
	}
	if old {
		n.Entities = append(n.Entities, hass.Sensor{
			Common: hass.Common{ID: "humidity", Name: hass.Name("Humidity")}, DeviceClass: "humidity", Unit: "%",
			StateClass: hass.StateClassMeasurement,
		})
	}
	return n
}

// until collects the messages on ch up to the marker, which the bridge
// publishes on test/marker after everything it published before: the broker
// handles one client's packets in order and forwards to one subscriber in
// order, so all of those have arrived when the marker does. (A marker from
// another client would not do: mochi acknowledges a publication before it
// forwards it.)
func until(tk *loop.Task, b *Bridge, ch <-chan mqtt.Message, marker string) ([]mqtt.Message, error) {
	if err := b.Publish(tk, "test/marker", []byte(marker), Pub{QoS: 1}); err != nil {
		return nil, err
	}
	var got []mqtt.Message
	for {
		m, err := recv(tk, ch)
		if err != nil {
			return got, fmt.Errorf("waiting for marker %s: %w", marker, err)
		}
		if m.Topic() == "test/marker" {
			if string(m.Payload()) == marker {
				return got, nil
			}
			continue
		}
		got = append(got, m)
	}
}

// goldenText renders publications as the broker received them (retain
// flag included, which subscribers do not see on live messages).
func goldenText(b *strings.Builder, run string, pks []packets.Packet) {
	fmt.Fprintf(b, "# %s: %d message(s)\n", run, len(pks))
	for _, pk := range pks {
		fmt.Fprintf(b, "topic: %s\nretain: %v\nqos: %d\n", pk.TopicName, pk.FixedHeader.Retain, pk.FixedHeader.Qos)
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, pk.Payload, "", "  "); err != nil {
			fmt.Fprintf(b, "payload: %q\n", pk.Payload)
			continue
		}
		fmt.Fprintf(b, "payload:\n%s\n", pretty.String())
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

// What the bridge publishes on the discovery topic across three runs: the
// first announces seven entities; the second, configured without the
// humidity sensor, removes it (reduced to its platform, then the final
// config); the third finds nothing to remove.
func TestHADiscoveryGoldenAndRemoval(t *testing.T) {
	br := startBroker(t, brokerOpts{Record: "homeassistant/"})
	ext := newTestClient(t, br.URL(), "ext")
	disc := make(chan mqtt.Message, 64)
	for _, f := range []string{"homeassistant/device/n1/config", "test/marker"} {
		if tok := ext.C.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { disc <- m }); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	var golden strings.Builder
	for i, old := range []bool{true, false, false} {
		run := fmt.Sprintf("run %d (humidity sensor configured: %v)", i+1, old)
		var announced []byte
		scenario(t, append(fastOpts(t, "n1", br.URL()), WithHomeAssistant(haNode(old))), nil,
			func(tk *loop.Task, b *Bridge) error {
				if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements >= 1 }); err != nil {
					return err
				}
				msgs, err := until(tk, b, disc, run)
				if err != nil {
					return err
				}
				goldenText(&golden, run, br.TakePublished())
				want := 1
				if i == 1 {
					want = 2
				}
				if len(msgs) != want || b.Stats().HAAnnouncements != uint64(want) {
					return fmt.Errorf("%s: %d discovery messages, %d counted; want %d", run, len(msgs), b.Stats().HAAnnouncements, want)
				}
				announced = b.HomeAssistant().Payload()
				return nil
			})
		if p, ok := br.Retained("homeassistant/device/n1/config"); !ok || !bytes.Equal(p, announced) {
			t.Fatalf("%s: retained config is not the announced one:\n%s", run, p)
		}
	}
	checkGolden(t, "ha_discovery.golden", golden.String())
}

// On Home Assistant's birth message the bridge announces again, then
// publishes the entities' last states again (never events).
func TestHABirthReannouncesConfigThenStates(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	all := ext.Sub(t, "#", 1)
	interesting := func(topic string) bool {
		return topic == "homeassistant/device/n1/config" || topic == "test/marker" ||
			strings.HasSuffix(topic, "/state") || strings.HasSuffix(topic, "/event")
	}
	next := func(tk *loop.Task) (mqtt.Message, error) {
		for {
			m, err := recv(tk, all)
			if err != nil || interesting(m.Topic()) {
				return m, err
			}
		}
	}
	scenario(t, append(fastOpts(t, "n1", br.URL()), WithHomeAssistant(haNode(false))), nil,
		func(tk *loop.Task, b *Bridge) error {
			cfg := b.HomeAssistant()
			temp, _ := cfg.Binding("temperature")
			relay, _ := cfg.Binding("relay")
			button, _ := cfg.Binding("button")
			if temp.StateTopic != "edgeagent/n1/temperature/state" || button.StateTopic != "edgeagent/n1/button/event" || relay.CommandTopic != "edgeagent/n1/relay/set" {
				return fmt.Errorf("bindings: %+v %+v %+v", temp, button, relay)
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements == 1 }); err != nil {
				return err
			}
			// Home Assistant discards retained events: refused here.
			if err := b.Publish(tk, button.StateTopic, []byte(`{"event_type":"press"}`), Pub{QoS: 1, Retain: true}); !errors.Is(err, ErrInvalid) {
				return fmt.Errorf("retained event: %v, want ErrInvalid", err)
			}
			for _, p := range []struct{ topic, payload string }{
				{temp.StateTopic, "21.5"}, {relay.StateTopic, "ON"}, {button.StateTopic, `{"event_type":"press"}`}, {temp.StateTopic, "21.7"},
			} {
				if err := b.Publish(tk, p.topic, []byte(p.payload), Pub{QoS: 1, Retain: p.topic != button.StateTopic}); err != nil {
					return err
				}
			}
			var seen []string
			for len(seen) < 5 {
				m, err := next(tk)
				if err != nil {
					return err
				}
				seen = append(seen, fmt.Sprintf("%s %s", m.Topic(), m.Payload()))
			}
			if err := offload(tk, func() { ext.Pub(t, hass.DefaultBirthTopic, 0, false, "online") }); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements == 2 }); err != nil {
				return err
			}
			msgs, err := until(tk, b, all, "after-birth")
			if err != nil {
				return err
			}
			var after []string
			for _, m := range msgs {
				if interesting(m.Topic()) {
					after = append(after, fmt.Sprintf("%s %.20s retain=%v", m.Topic(), m.Payload(), m.Retained()))
				}
			}
			want := []string{
				`homeassistant/device/n1/config {"device":{"identifi retain=false`,
				"edgeagent/n1/temperature/state 21.7 retain=false",
				"edgeagent/n1/relay/state ON retain=false",
			}
			if strings.Join(after, "\n") != strings.Join(want, "\n") {
				return fmt.Errorf("after birth:\n%s\nwant:\n%s\n(before: %q)", strings.Join(after, "\n"), strings.Join(want, "\n"), seen)
			}
			return nil
		})
}

// Entities whose ids are levels of the bridge's own topics are refused, as
// is an availability topic that is not the bridge's.
func TestHAValidation(t *testing.T) {
	n := haNode(false)
	n.Entities = append(n.Entities, hass.Switch{Common: hass.Common{ID: "status"}})
	_, err := New(loop.New(), append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithHomeAssistant(n))...)
	if err == nil {
		t.Fatal("entity id status accepted")
	}
	mustContain(t, err.Error(), `WithHomeAssistant: entity "status": the id is a level of the bridge's own topics`)
	n = haNode(false)
	n.AvailabilityTopic = "elsewhere/availability"
	_, err = New(loop.New(), append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithHomeAssistant(n))...)
	if err == nil {
		t.Fatal("foreign availability topic accepted")
	}
	mustContain(t, err.Error(), `AvailabilityTopic "elsewhere/availability": must be the bridge's "edgeagent/n1/availability"`)
	n = haNode(false)
	n.Entities = append(n.Entities, hass.Sensor{Common: hass.Common{ID: "lux"}, DeviceClass: "illuminance", Unit: "lux"})
	_, err = New(loop.New(), append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithHomeAssistant(n))...)
	if !errors.Is(err, hass.ErrInvalid) {
		t.Fatalf("invalid sensor: %v", err)
	}
	// A host name with dots is a fine MQTT node, not a Home Assistant id.
	b, err := New(loop.New(), append(fastOpts(t, "pi.local", "tcp://127.0.0.1:1"), WithHomeAssistant(haNode(false)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.HomeAssistant().Topic(); got != "homeassistant/device/pi_local/config" {
		t.Errorf("discovery topic %s", got)
	}
	if bd, _ := b.HomeAssistant().Binding("relay"); bd.StateTopic != "edgeagent/pi.local/relay/state" {
		t.Errorf("state topic %s", bd.StateTopic)
	}
}

// SetHomeAssistant changes the announced node on the running connection —
// no reconnect: an entity dropped is removed (reduced to its platform, then
// the final config), and a node with no entities removes the device (an
// empty retained config).
func TestSetHomeAssistantOnTheRunningConnection(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	disc := make(chan mqtt.Message, 64)
	for _, f := range []string{"homeassistant/device/n1/config", "test/marker"} {
		if tok := ext.C.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { disc <- m }); !tok.WaitTimeout(testTimeout) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	scenario(t, append(fastOpts(t, "n1", br.URL()), WithHomeAssistant(haNode(true))), nil,
		func(tk *loop.Task, b *Bridge) error {
			if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements >= 1 }); err != nil {
				return err
			}
			if _, err := until(tk, b, disc, "first"); err != nil {
				return err
			}
			if err := b.SetHomeAssistant(haNode(false)); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements >= 3 }); err != nil {
				return err
			}
			msgs, err := until(tk, b, disc, "second")
			if err != nil {
				return err
			}
			if len(msgs) != 2 || !strings.Contains(string(msgs[0].Payload()), `"humidity":{"platform":"sensor"}`) ||
				strings.Contains(string(msgs[1].Payload()), `"humidity"`) {
				return fmt.Errorf("dropping an entity published %d messages: %s", len(msgs), msgs)
			}
			empty := haNode(false)
			empty.Entities = nil
			if err := b.SetHomeAssistant(empty); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return s.HAAnnouncements >= 4 }); err != nil {
				return err
			}
			if msgs, err = until(tk, b, disc, "third"); err != nil {
				return err
			}
			if len(msgs) != 1 || len(msgs[0].Payload()) != 0 || b.HomeAssistant() != nil {
				return fmt.Errorf("no entities: %d messages, want one empty payload", len(msgs))
			}
			if s := b.Stats(); s.Connects != 1 {
				return fmt.Errorf("%d connects: SetHomeAssistant reconnected", s.Connects)
			}
			other := haNode(false)
			other.Prefix = "elsewhere"
			if err := b.SetHomeAssistant(other); err == nil || !strings.Contains(err.Error(), "needs a new bridge") {
				return fmt.Errorf("moving the discovery topic: %v, want a refusal", err)
			}
			return nil
		})
	if _, ok := br.Retained("homeassistant/device/n1/config"); ok {
		t.Fatal("a config is still retained after the node lost its entities")
	}
}
