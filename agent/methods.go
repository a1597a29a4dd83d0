package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// Request methods of the agent, on <base>/<node>/req/<method>.
const (
	MethodPing   = "ping"   // → {"pong": true, "node", "version", "time"}
	MethodStatus = "status" // → the status publication
	MethodRead   = "read"   // params {"device": name} or "name" → the device's readings
	MethodReload = "reload" // → what changed, or the configuration's errors
	MethodAt     = "at"     // params {"command": "AT+CSQ", "device": name} → the modem's reply
)

// errStopping answers requests that arrive during the shutdown.
var errStopping = errors.New("the agent is shutting down")

// methods returns the agent's request handlers.
func (a *Agent) methods() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		MethodPing:   a.ping,
		MethodStatus: func(*loop.Task, *rpc.Request) (any, error) { return a.statusReport(), nil },
		MethodRead:   a.readMethod,
		MethodReload: a.reloadMethod,
		MethodAt:     a.atMethod,

		MethodDebugHang: a.debugHang, // refused unless debug.allow_hang (agent/debug.go)
	}
}

// guard refuses requests once the shutdown began and counts the ones in
// progress, so the shutdown can wait for their replies.
func (a *Agent) guard(h rpc.Handler) rpc.Handler {
	return func(t *loop.Task, r *rpc.Request) (any, error) {
		if a.stopping {
			return nil, errStopping
		}
		a.inflight++
		defer func() {
			a.inflight--
			if a.inflight == 0 {
				a.idleWQ.WakeAll()
			}
		}()
		return h(t, r)
	}
}

// Pong is the reply to ping.
type Pong struct {
	Pong    bool   `json:"pong"`
	Node    string `json:"node"`
	Version string `json:"version"`
	Time    string `json:"time"`
}

func (a *Agent) ping(*loop.Task, *rpc.Request) (any, error) {
	return Pong{Pong: true, Node: a.cfg.MQTT.NodeID, Version: a.version, Time: a.l.Now().UTC().Format(TimeFormat)}, nil
}

// deviceParam reads the params of read and at: {"device": name} or "name".
func deviceParam(r *rpc.Request) (string, error) {
	if len(r.Params) == 0 {
		return "", nil
	}
	var name string
	if err := json.Unmarshal(r.Params, &name); err == nil {
		return name, nil
	}
	var p struct {
		Device string `json:"device"`
	}
	if err := json.Unmarshal(r.Params, &p); err != nil {
		return "", fmt.Errorf(`params: give the device as "name" or {"device": "name"}: %w`, err)
	}
	return p.Device, nil
}

// Readings is the reply to read.
type Readings struct {
	Device string             `json:"device"`
	Type   string             `json:"type"`
	State  string             `json:"state"`
	Error  string             `json:"error,omitempty"`
	Values map[string]reading `json:"values"` // the latest published observations, by entity
	Now    any                `json:"now,omitempty"`
}

func (a *Agent) readMethod(t *loop.Task, req *rpc.Request) (any, error) {
	name, err := deviceParam(req)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("params: name the device: one of %s", strings.Join(a.order, ", "))
	}
	r := a.devs[name]
	if r == nil {
		return nil, fmt.Errorf("no device %q: the devices are %s", name, strings.Join(a.order, ", "))
	}
	st := r.status()
	out := Readings{Device: name, Type: st.Type, State: st.State, Error: st.Error, Values: r.env.readings()}
	if r.state == StateRunning {
		now, err := loop.WaitForValue(t, 5*time.Second, func(t *loop.Task) (any, error) { return r.dev.read(t, r.env) })
		if err != nil {
			if t.Cancelled() {
				return nil, err
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out.Now = now
	}
	return out, nil
}

func (a *Agent) atMethod(t *loop.Task, req *rpc.Request) (any, error) {
	var p struct {
		Command string `json:"command"`
		Device  string `json:"device"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, fmt.Errorf(`params: {"command": "AT…", "device": "name"}: %w`, err)
	}
	var modems []string
	for _, name := range a.order {
		if _, ok := a.devs[name].dev.(atCommander); ok {
			modems = append(modems, name)
		}
	}
	if p.Device == "" && len(modems) == 1 {
		p.Device = modems[0]
	}
	r := a.devs[p.Device]
	at, ok := atCommander(nil), false
	if r != nil {
		at, ok = r.dev.(atCommander)
	}
	switch {
	case len(modems) == 0:
		return nil, errors.New("this node has no at_modem device")
	case !ok:
		return nil, fmt.Errorf(`params: "device" must name a modem: %s`, strings.Join(modems, ", "))
	case p.Command == "":
		return nil, errors.New(`params: "command" is missing, such as {"command": "AT+CSQ"}`)
	case r.state != StateRunning:
		return nil, fmt.Errorf("modem %s is %s: %s", p.Device, r.state, r.lastErr)
	}
	return at.at(t, p.Command)
}

// atCommander is a device that sends AT commands (at_modem).
type atCommander interface {
	at(t *loop.Task, command string) (any, error)
}

// Status is the status publication on <base>/<node>/status and the reply to
// the status method.
type Status struct {
	Node      string                  `json:"node"`
	Version   string                  `json:"version"`
	Time      string                  `json:"time"`
	Uptime    float64                 `json:"uptime_s"`
	Connected bool                    `json:"connected"`
	Broker    string                  `json:"broker,omitempty"`
	Outbox    int                     `json:"outbox"` // messages waiting for the broker
	Devices   map[string]DeviceStatus `json:"devices"`
	Failing   int                     `json:"devices_failing"`
	Reloads   uint64                  `json:"reloads"`
	Loop      LoopStatus              `json:"loop"`
	MQTT      MQTTStatus              `json:"mqtt"`
}

// LoopStatus is the loop's part of the status.
type LoopStatus struct {
	Tasks    int    `json:"tasks"`
	Switches uint64 `json:"switches"`
	Hogs     uint64 `json:"hogs"`
	// ChildFailures counts group children that failed: every device run
	// that ended with an error is one.
	ChildFailures uint64  `json:"child_failures"`
	MaxRunMS      float64 `json:"max_run_ms"`
	Inbox         int     `json:"inbox"`
	Goroutines    int     `json:"goroutines"`
}

// MQTTStatus is the bridge's part of the status.
type MQTTStatus struct {
	Connects        uint64 `json:"connects"`
	ConnectFailures uint64 `json:"connect_failures"`
	Delivered       uint64 `json:"delivered"`
	DroppedQoS0     uint64 `json:"dropped_qos0"`
	PublishErrors   uint64 `json:"publish_errors"`
	Received        uint64 `json:"received"`
	RequestsServed  uint64 `json:"requests_served"`
	RequestErrors   uint64 `json:"request_errors"`
	// Echo is "ok" when the broker delivered the node's own echo marker
	// on this connection, "missing" when it did not (an ACL withholding
	// what it granted), "" before the check or while disconnected.
	Echo string `json:"echo,omitempty"`
	// Refused lists the subscriptions the broker refuses (SUBACK 0x80):
	// without it an operator would see only commands that never arrive.
	Refused []RefusedSubscription `json:"refused,omitempty"`
}

// RefusedSubscription is one filter the broker refused, with how often.
type RefusedSubscription struct {
	Filter   string `json:"filter"`
	Refusals uint64 `json:"refusals"`
}

// mqttStatus is the bridge's part of the status, from its stats.
func mqttStatus(bs bridge.Stats) MQTTStatus {
	s := MQTTStatus{Connects: bs.Connects, ConnectFailures: bs.ConnectFailures, Delivered: bs.Delivered,
		DroppedQoS0: bs.DroppedQoS0, PublishErrors: bs.PublishErrors, Received: bs.Received, Echo: bs.Echo}
	seen := map[string]bool{}
	for _, b := range bs.Bindings {
		// Several bindings may share a filter: one subscription.
		if b.State == "refused" && !seen[b.Binding] {
			seen[b.Binding] = true
			s.Refused = append(s.Refused, RefusedSubscription{Filter: b.Binding, Refusals: b.Refusals})
		}
	}
	return s
}

// statusReport gathers the status now.
func (a *Agent) statusReport() Status {
	ls := a.l.Stats()
	s := Status{Node: a.cfg.MQTT.NodeID, Version: a.version, Time: a.l.Now().UTC().Format(TimeFormat),
		Uptime:  a.l.Now().Sub(a.started).Seconds(),
		Devices: map[string]DeviceStatus{}, Reloads: a.reloadsN,
		Loop: LoopStatus{Tasks: ls.Tasks, Switches: ls.Switches, Hogs: ls.Hogs, ChildFailures: ls.ChildFailures,
			MaxRunMS: float64(ls.MaxRun) / float64(time.Millisecond), Inbox: ls.Inbox, Goroutines: runtime.NumGoroutine()},
	}
	for _, name := range a.order {
		r := a.devs[name]
		s.Devices[name] = r.status()
		if r.state == StateFailing || r.state == StateRestarting {
			s.Failing++
		}
	}
	if a.b != nil {
		bs := a.b.Stats()
		s.Connected, s.Broker, s.Outbox = bs.Connected, bs.Broker, bs.Outbox.Pending
		s.MQTT = mqttStatus(bs)
		if a.rpc != nil {
			rs := a.rpc.Stats()
			s.MQTT.RequestsServed, s.MQTT.RequestErrors = rs.Served, rs.ErrorReplies
		}
	}
	return s
}

// deviceChanged asks for a status publication soon.
func (a *Agent) deviceChanged() {
	a.statusDirty = true
	a.statusWQ.WakeAll()
	a.summary()
}

// summary updates the line systemd shows.
func (a *Agent) summary() {
	running, failing := 0, 0
	for _, r := range a.devs {
		switch r.state {
		case StateRunning:
			running++
		case StateFailing, StateRestarting:
			failing++
		}
	}
	conn := "not connected"
	if a.b != nil && a.b.Connected() {
		conn = "connected to " + a.b.Stats().Broker
	}
	s := fmt.Sprintf("%s; %d of %d devices running", conn, running, len(a.devs))
	if failing > 0 {
		s += fmt.Sprintf(", %d failing", failing)
	}
	a.status(s)
}

// statusTask publishes the status every status_interval, and soon after a
// device changes state (at most once a second).
func (a *Agent) statusTask(t *loop.Task) error {
	every := a.cfg.MQTT.StatusInterval
	if every <= 0 {
		var never loop.WaitQueue
		return never.Wait(t)
	}
	// On a grid of the interval, shared with the other periodic work.
	next := nextAligned(a.l.Now(), every)
	for {
		for !a.statusDirty && a.l.Now().Before(next) {
			err := loop.WaitFor(t, next.Sub(a.l.Now()), a.statusWQ.Wait)
			if err != nil && !errors.Is(err, loop.ErrTimeout) {
				return err
			}
			if err := t.Checkpoint(); err != nil {
				return err
			}
		}
		a.statusDirty = false
		if a.b != nil {
			if b, err := json.Marshal(a.statusReport()); err == nil {
				if err := a.b.TryPublish(a.topics.Status(), b, bridge.Pub{}); err != nil {
					a.log.Debug("status not published", "err", err)
				}
			}
		}
		if !a.l.Now().Before(next) {
			next = nextAligned(a.l.Now(), every)
		}
		if err := t.Sleep(time.Second); err != nil {
			return err
		}
		if every != a.cfg.MQTT.StatusInterval {
			every = a.cfg.MQTT.StatusInterval
			next = nextAligned(a.l.Now(), every)
		}
	}
}
