package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// An Event bound to a topic publishes its value when set (the value it had
// before Run first); a queue bound to a topic publishes every item, in
// order. QoS 0 goes straight out; errors and counters have their topics.
func TestBindingsPublish(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	temp := ext.Sub(t, "edgeagent/n1/temperature/state", 1)
	events := ext.Sub(t, "edgeagent/n1/button/event", 1)
	fast := ext.Sub(t, "edgeagent/n1/fast", 0)
	errs := ext.Sub(t, "edgeagent/n1/error", 0)
	status := ext.Sub(t, "edgeagent/n1/status", 0)
	ev := &primitives.Event[float64]{}
	ev.Set(20.5)
	presses := primitives.NewQueue[string](8)
	opts := append(fastOpts(t, "n1", br.URL()), WithStatusInterval(5*time.Millisecond))
	scenario(t, opts,
		func(b *Bridge) error {
			return errors.Join(
				BindEvent(b, ev, b.Topics().State("temperature"), JSON, Pub{QoS: 1, Retain: true}),
				BindQueue(b, presses, b.Topics().Event("button"), Text, Pub{QoS: 1}),
			)
		},
		func(tk *loop.Task, b *Bridge) error {
			if err := expect(tk, temp, "20.5"); err != nil {
				return err
			}
			ev.Set(21)
			if err := expect(tk, temp, "21"); err != nil {
				return err
			}
			for _, p := range []string{"press", "double", "long"} {
				if err := presses.Put(tk, p); err != nil {
					return err
				}
			}
			for _, p := range []string{"press", "double", "long"} {
				if err := expect(tk, events, p); err != nil {
					return err
				}
			}
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			for i := range 3 {
				if err := b.Publish(tk, "edgeagent/n1/fast", []byte(fmt.Sprint(i)), Pub{QoS: 0}); err != nil {
					return err
				}
			}
			for i := range 3 {
				if err := expect(tk, fast, fmt.Sprint(i)); err != nil {
					return err
				}
			}
			b.ReportError("relay", errors.New("payload \"MAYBE\" is neither ON nor OFF"))
			if err := expect(tk, errs, `{"source":"relay","error":"payload \"MAYBE\" is neither ON nor OFF"}`); err != nil {
				return err
			}
			for {
				p, err := recvPayload(tk, status)
				if err != nil {
					return err
				}
				var s Stats
				if err := json.Unmarshal([]byte(p), &s); err != nil {
					return fmt.Errorf("status %s: %w", p, err)
				}
				if s.Connected && s.PublishedQoS0 >= 3 && s.Delivered >= 5 {
					return nil
				}
			}
		})
}

func TestEncoders(t *testing.T) {
	for _, c := range []struct {
		got  func() ([]byte, error)
		want string
	}{
		{func() ([]byte, error) { return Text(21.5) }, "21.5"},
		{func() ([]byte, error) { return Text(float32(0.1)) }, "0.1"},
		{func() ([]byte, error) { return Text(42) }, "42"},
		{func() ([]byte, error) { return Text(true) }, "true"},
		{func() ([]byte, error) { return Text([]byte("raw")) }, "raw"},
		{func() ([]byte, error) { return Text(time.Second) }, "1s"},
		{func() ([]byte, error) { return JSON(map[string]int{"brightness": 128}) }, `{"brightness":128}`},
		{func() ([]byte, error) { return OnOff(true) }, "ON"},
		{func() ([]byte, error) { return OnOff(false) }, "OFF"},
		{func() ([]byte, error) { return Raw([]byte{1, 2}) }, "\x01\x02"},
	} {
		got, err := c.got()
		if err != nil || string(got) != c.want {
			t.Errorf("got %q %v, want %q", got, err, c.want)
		}
	}
}
