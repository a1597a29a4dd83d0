package agent

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/filter"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// TimeFormat is how payloads write the time a value or event was observed:
// RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// A publisher sends a device's messages; the agent routes them to its
// current bridge. It never waits (it is called from callbacks too).
type publisher interface {
	publish(topic string, payload []byte, p config.Publish) error
}

// output is one value of a device on its way out: its filter chain, run on
// loop time, and its topic. Devices report observations to it through their
// devEnv; it decides what is published and when.
type output struct {
	v     *config.Value
	topic string
	l     *loop.Loop
	pub   publisher
	onErr func(error)

	num filter.Chain[float64]
	bin filter.Chain[bool]
	txt filter.Chain[string]

	timer *loop.Timer

	latest    any       // the latest observation, before the filters
	latestAt  time.Time // when it was observed
	have      bool
	published uint64
}

func newOutput(l *loop.Loop, v *config.Value, tp topic.Layout, pub publisher, onErr func(error)) (*output, error) {
	o := &output{v: v, l: l, pub: pub, onErr: onErr, topic: tp.State(v.Entity)}
	var err error
	switch v.Kind {
	case config.Numeric:
		o.num, err = filter.New[float64](v.Publish.Filter)
	case config.Binary:
		o.bin, err = filter.New[bool](v.Publish.Filter)
	case config.Text:
		o.txt, err = filter.New[string](v.Publish.Filter)
	case config.Event:
		o.topic = tp.Event(v.Entity)
	}
	if err != nil {
		return nil, fmt.Errorf("value %s: %w", v.Entity, err)
	}
	return o, nil
}

// statePayload is the JSON of a state: the value and when it was observed.
type statePayload struct {
	Value any    `json:"value"`
	Time  string `json:"time"`
}

// observe takes one observation of a state value (float64, bool or string
// by the value's kind; a lightState for a light) made at time at.
func (o *output) observe(v any, at time.Time) {
	o.latest, o.latestAt, o.have = v, at, true
	switch o.v.Kind {
	case config.Numeric:
		observeChain(o, &o.num, v, at, "a number", ident[float64])
	case config.Binary:
		observeChain(o, &o.bin, v, at, "on/off", onOffAny)
	case config.Text:
		observeChain(o, &o.txt, v, at, "a text", ident[string])
	case config.Light:
		ls, ok := v.(lightState)
		if !ok {
			o.fail(fmt.Errorf("value %s: observation %v is not a light state", o.v.Entity, v))
			return
		}
		ls.Time = at.UTC().Format(TimeFormat)
		o.send(ls)
	default:
		o.fail(fmt.Errorf("value %s is an event: report it with event", o.v.Entity))
	}
}

// observeChain passes an observation of the value's type T (what names it
// in the error otherwise) through the chain c; show is how its value is
// published.
func observeChain[T comparable](o *output, c *filter.Chain[T], v any, at time.Time, what string, show func(T) any) {
	x, ok := v.(T)
	if !ok {
		o.fail(fmt.Errorf("value %s: observation %v is not %s", o.v.Entity, v, what))
		return
	}
	handle(o, c.Observe(at, x), show)
}

// handle publishes what the chain let through and arms the timer for the
// chain's next tick.
func handle[T comparable](o *output, out filter.Output[T], show func(T) any) {
	if out.Publish {
		o.send(statePayload{Value: show(out.Value), Time: out.Observed.UTC().Format(TimeFormat)})
	}
	o.arm(out.Next)
}

func ident[T any](v T) any { return v }
func onOffAny(b bool) any  { return onOff(b) }

func (o *output) arm(next time.Time) {
	if next.IsZero() {
		if o.timer != nil {
			o.timer.Stop()
		}
		return
	}
	d := next.Sub(o.l.Now())
	if o.timer == nil {
		o.timer = o.l.CallLater(d, o.tick)
		return
	}
	o.timer.Reset(d)
}

// tick runs the chain's timed stages: the throttle's trailing value, the
// heartbeat.
func (o *output) tick() {
	now := o.l.Now()
	switch o.v.Kind {
	case config.Numeric:
		handle(o, o.num.Tick(now), ident[float64])
	case config.Binary:
		handle(o, o.bin.Tick(now), onOffAny)
	case config.Text:
		handle(o, o.txt.Tick(now), ident[string])
	}
}

// event publishes one event of type typ observed at time at, with attrs
// (which may not set event_type or time).
func (o *output) event(typ string, attrs map[string]any, at time.Time) {
	if o.v.Kind != config.Event {
		o.fail(fmt.Errorf("value %s is not an event", o.v.Entity))
		return
	}
	if !slices.Contains(o.v.EventTypes, typ) {
		o.fail(fmt.Errorf("value %s: %q is not one of its event types (%v)", o.v.Entity, typ, o.v.EventTypes))
		return
	}
	m := make(map[string]any, len(attrs)+2)
	for k, v := range attrs {
		m[k] = v
	}
	m["event_type"] = typ
	m["time"] = at.UTC().Format(TimeFormat)
	o.latest, o.latestAt, o.have = typ, at, true
	o.send(m)
}

func (o *output) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		o.fail(fmt.Errorf("value %s: %w", o.v.Entity, err))
		return
	}
	if err := o.pub.publish(o.topic, b, o.v.Publish); err != nil {
		o.fail(fmt.Errorf("value %s: publish: %w", o.v.Entity, err))
		return
	}
	o.published++
}

func (o *output) fail(err error) {
	if o.onErr != nil {
		o.onErr(err)
	}
}

// stop ends the output's timer: the device is going away.
func (o *output) stop() {
	if o.timer != nil {
		o.timer.Stop()
	}
}

// reading is one value as the read method and the status show it.
type reading struct {
	Value any    `json:"value"`
	Time  string `json:"time,omitempty"`
}

// read returns the latest observation, or false before the first.
func (o *output) read() (reading, bool) {
	if !o.have {
		return reading{}, false
	}
	v := o.latest
	if b, ok := v.(bool); ok {
		v = onOff(b)
	}
	return reading{Value: v, Time: o.latestAt.UTC().Format(TimeFormat)}, true
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}
