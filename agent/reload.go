package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// reloadResult is what a reload did.
type reloadResult struct {
	Changes []string `json:"changes"` // what changed, one line each; empty when nothing did
	err     error
}

// reloadJob is one reload asked for by SIGHUP (Reload) or the reload
// method, carried out by the reload task.
type reloadJob struct {
	fromRequest bool
	done        bool
	res         reloadResult
	wq          loop.WaitQueue
}

// reloadTask carries out reloads one at a time. It is the agent's own task,
// not a request handler's: a reload may replace the bridge, whose handlers
// end with it.
func (a *Agent) reloadTask(t *loop.Task) error {
	for {
		j, err := a.reloads.Get(t)
		if err != nil {
			return err
		}
		if j == nil {
			j = &reloadJob{}
		}
		res := a.reload(t, j)
		if !j.done {
			j.res, j.done = res, true
			j.wq.WakeAll()
		}
		if err := t.Checkpoint(); err != nil {
			return err
		}
	}
}

// reloadMethod serves the reload request: it reloads and replies with what
// changed, or with every error of the new configuration.
func (a *Agent) reloadMethod(t *loop.Task, _ *rpc.Request) (any, error) {
	j := &reloadJob{fromRequest: true}
	if err := a.reloads.TryPut(j); err != nil {
		return nil, errors.New("a reload is already in progress")
	}
	for !j.done {
		if err := j.wq.Wait(t); err != nil {
			return nil, err
		}
	}
	if j.res.err != nil {
		return nil, j.res.err
	}
	return j.res, nil
}

// reload reads the configuration again and applies it. A configuration
// with errors is refused as a whole, the running one kept. A good one is
// applied device by device: unchanged devices go on untouched, changed ones
// are stopped and started again, removed ones stopped, new ones started;
// the bridge is replaced only when the MQTT settings changed, and discovery
// is published again only when its payload changed.
// Queued messages are kept: the outbox stays on disk, and what devices
// publish while the bridge is replaced waits in memory.
func (a *Agent) reload(t *loop.Task, j *reloadJob) reloadResult {
	a.log.Info("reloading the configuration", "file", a.cfg.File)
	if err := sdnotify.OffLoop(t, a.notify.Reloading); err != nil {
		return reloadResult{err: err}
	}
	defer func() {
		// READY=1 ends the reload for systemd, whatever came of it; a
		// cancelled task skips it (the agent is stopping).
		//loopvet:ok the reload's outcome is already decided; cancellation ends the task right after
		_ = sdnotify.OffLoop(t, a.notify.Ready)
	}()
	cfg, err := loop.Offload(t, func(context.Context) (*config.Config, error) { return a.load() })
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			a.log.Error("reload refused: the configuration has errors; the running one is kept", "errors", len(ce))
			for _, e := range ce {
				a.log.Error("reload: " + e.Error())
			}
			err = fmt.Errorf("the configuration has %d error(s); the running one is kept:\n%w", len(ce), err)
		} else {
			a.log.Error("reload refused; the running configuration is kept", "err", err)
		}
		return reloadResult{err: err}
	}
	res, err := a.apply(t, cfg, j)
	if err != nil {
		a.log.Error("reload failed", "err", err)
		return reloadResult{err: err}
	}
	a.reloadsN++
	if len(res.Changes) == 0 {
		a.log.Info("reloaded: nothing changed")
	}
	for _, c := range res.Changes {
		a.log.Info("reloaded: " + c)
	}
	a.deviceChanged()
	return res
}

// sameDevice reports whether two configurations of a device are the same
// (their place in the file aside).
func sameDevice(x, y *config.Device) bool {
	xc, yc := *x, *y
	xc.Pos, yc.Pos = config.Pos{}, config.Pos{}
	return reflect.DeepEqual(xc, yc)
}

// apply makes cfg the running configuration. Only a change of the MQTT
// connection's settings (the mqtt section, the state directory, the shutdown
// timeout, Home Assistant's prefix and birth topic, discovery on or off)
// replaces the bridge — a new connection, "offline" and "online" on the way.
// Devices added, changed or removed update the discovery config on the
// running connection; the log section changes the running logger.
func (a *Agent) apply(t *loop.Task, cfg *config.Config, j *reloadJob) (reloadResult, error) {
	var res reloadResult
	newBridge := bridgeKey(cfg) != bridgeKey(a.cfg)
	var discovery *hass.Node // set on the running bridge when it changed
	if !newBridge && cfg.HomeAssistant.Enabled {
		next, err := currentDiscovery(cfg, a.version)
		if err != nil {
			return res, err
		}
		cur, err := currentDiscovery(a.cfg, a.version)
		if err != nil || !bytes.Equal(next, cur) {
			n := homeAssistantNode(cfg, a.version)
			discovery = &n
		}
	}
	topicsMove := cfg.MQTT.BaseTopic != a.cfg.MQTT.BaseTopic || cfg.MQTT.NodeID != a.cfg.MQTT.NodeID

	// Build the new and changed devices first: one that cannot be built
	// refuses the reload before anything stopped.
	var stop, removed []string
	built := map[string]device{}
	for _, d := range cfg.Devices {
		old := a.devs[d.Name]
		if old != nil && sameDevice(old.cfg, d) && !topicsMove {
			continue
		}
		dev, err := newDevice(d, a.hw)
		if err != nil {
			return res, fmt.Errorf("%s: devices: %s: %w", d.Pos, d.Name, err)
		}
		built[d.Name] = dev
		if old != nil {
			stop = append(stop, d.Name)
			res.Changes = append(res.Changes, "device "+d.Name+" changed: restarted")
		} else {
			res.Changes = append(res.Changes, "device "+d.Name+" added")
		}
	}
	for _, name := range a.order {
		if _, ok := cfg.Device(name); !ok {
			stop = append(stop, name)
			removed = append(removed, name)
			res.Changes = append(res.Changes, "device "+name+" removed")
		}
	}
	for _, name := range stop {
		r := a.devs[name]
		a.stopDev(t, r)
		r.state = StateStopped
		a.removeDev(name)
	}
	for _, name := range removed {
		// Its retained availability would outlive it.
		_ = a.publish(a.availabilityTopic(name), []byte{}, config.Publish{QoS: 1, Retain: true, Delivery: config.DeliveryLatest})
	}
	if cfg.Log != a.cfg.Log {
		if a.logh != nil {
			a.logh.Set(cfg.Log)
			res.Changes = append(res.Changes, fmt.Sprintf("log: level %s, format %s", cfg.Log.Level, cfg.Log.Format))
		} else {
			res.Changes = append(res.Changes, "log: changed, but the logger was given by the caller: not applied")
		}
	}
	if newBridge {
		res.Changes = append(res.Changes, "MQTT settings changed: reconnected")
		if j.fromRequest {
			// Answer now, through the connection the request came by: the
			// old bridge's handlers end with it. A handler's reply is handed
			// to its connection in the same step as the handler returns
			// (rpc serves and replies without an await between), so once no
			// request is in flight the reply is on its way, ahead of the old
			// bridge's "offline" and disconnect.
			j.res, j.done = res, true
			j.wq.WakeAll()
			for a.inflight > 0 {
				if err := a.idleWQ.Wait(t); err != nil {
					return res, err
				}
			}
		}
		if err := a.replaceBridge(t, cfg); err != nil {
			return res, err
		}
	}
	old := a.cfg
	a.cfg = cfg
	// Keep the order of the new file.
	var order []string
	for _, d := range cfg.Devices {
		if r := a.devs[d.Name]; r != nil {
			r.cfg = d // equal but for its place
			r.env.dev = d
			order = append(order, d.Name)
			continue
		}
		r, err := a.newDevRun(d, built[d.Name])
		if err != nil {
			a.cfg = old
			return res, err
		}
		a.addDev(r)
		order = append(order, d.Name)
		a.startDev(r)
	}
	a.order = order
	if discovery != nil && a.b != nil {
		if err := a.b.SetHomeAssistant(*discovery); err != nil {
			a.log.Error("reload: Home Assistant discovery not updated", "err", err)
		} else {
			res.Changes = append(res.Changes, "Home Assistant discovery updated")
		}
	}
	if !newBridge && old.MQTT.StatusInterval != cfg.MQTT.StatusInterval {
		res.Changes = append(res.Changes, "status_interval changed")
	}
	if len(res.Changes) > 0 {
		a.log.Debug("reload applied", "changes", strings.Join(res.Changes, "; "))
	}
	return res, nil
}
