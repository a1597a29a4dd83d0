package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/filter"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// recorder is a publisher that keeps what it is given, with the loop time.
type recorder struct {
	l    *loop.Loop
	sent []string
}

func (r *recorder) publish(topic string, payload []byte, p config.Publish) error {
	r.sent = append(r.sent, fmt.Sprintf("%v %s %s qos=%d retain=%v", r.l.Now().Sub(loop.VirtualEpoch()), topic, payload, p.QoS, p.Retain))
	return nil
}

// The publish filters run on loop time: a change below the delta is held
// back, a wanted value inside the throttle goes out when its window ends
// (stamped with its observation time), and the heartbeat repeats the latest
// value when nothing went out for that long.
func TestOutputFiltersOnLoopTime(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	rec := &recorder{l: l}
	delta := 0.5
	v := &config.Value{Entity: "temp", Kind: config.Numeric, Publish: config.Publish{QoS: 1, Retain: true,
		Filter: filter.Spec{Delta: &delta, Throttle: 10 * time.Second, Heartbeat: time.Minute}}}
	tp, err := topic.New("edgeagent", "n")
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOutput(l, v, tp, rec, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	err = l.Run(context.Background(), func(t *loop.Task) error {
		steps := []struct {
			at time.Duration
			v  float64
		}{{0, 1}, {time.Second, 1.2}, {2 * time.Second, 2}, {3 * time.Second, 2.1}}
		start := t.Loop().Now()
		for _, s := range steps {
			if err := t.Sleep(start.Add(s.at).Sub(t.Loop().Now())); err != nil {
				return err
			}
			o.observe(s.v, t.Loop().Now())
		}
		return t.Sleep(75 * time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`0s edgeagent/n/temp/state {"value":1,"time":"2000-01-01T00:00:00.000Z"} qos=1 retain=true`,
		// 1.2 at 1 s is within the delta; 2 at 2 s is wanted but throttled,
		// and 2.1 at 3 s replaces it: the latest wanted value goes out when
		// the window ends, with the time it was observed.
		`10s edgeagent/n/temp/state {"value":2.1,"time":"2000-01-01T00:00:03.000Z"} qos=1 retain=true`,
		`1m10s edgeagent/n/temp/state {"value":2.1,"time":"2000-01-01T00:00:03.000Z"} qos=1 retain=true`,
	}
	if strings.Join(rec.sent, "\n") != strings.Join(want, "\n") {
		t.Fatalf("published:\n%s\nwant:\n%s", strings.Join(rec.sent, "\n"), strings.Join(want, "\n"))
	}
}

// A value's delivery becomes the outbox's policy: states latest, events
// max_age, all for neither; QoS 0 keeps nothing in the outbox.
func TestPubOf(t *testing.T) {
	cases := []struct {
		p    config.Publish
		want bridge.Pub
	}{
		{config.Publish{QoS: 1, Retain: true, Delivery: config.DeliveryLatest}, bridge.Pub{QoS: 1, Retain: true, Latest: true}},
		{config.Publish{QoS: 1, Delivery: config.DeliveryMaxAge, MaxAge: time.Minute}, bridge.Pub{QoS: 1, MaxAge: time.Minute}},
		{config.Publish{QoS: 2, Delivery: config.DeliveryAll}, bridge.Pub{QoS: 2}},
		{config.Publish{QoS: 0, Retain: true, Delivery: config.DeliveryLatest}, bridge.Pub{Retain: true}},
	}
	for _, c := range cases {
		if got := pubOf(c.p); got != c.want {
			t.Errorf("%+v: %+v, want %+v", c.p, got, c.want)
		}
	}
}
