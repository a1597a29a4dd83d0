package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// Device states, as the status topic and the read method show them.
const (
	StateStarting   = "starting"   // run has started, the hardware is not open yet
	StateRunning    = "running"    // the hardware is open and works
	StateFailing    = "failing"    // run goes on but the hardware fails; it retries
	StateRestarting = "restarting" // run failed; the supervisor restarts it after a back-off
	StateStopped    = "stopped"    // the device was stopped (shutdown or reload)
)

// Restart back-off of a failed device: the first restart after
// restartMin, doubling up to restartMax; a failure of a run that had been
// ready for restartMax starts the schedule afresh.
const (
	restartMin = time.Second
	restartMax = time.Minute
)

// devRun is one device under supervision.
type devRun struct {
	cfg  *config.Device
	dev  device
	env  *devEnv
	cmds *primitives.Queue[bridge.Message]

	state    string
	lastErr  string
	failures uint64 // runs that failed, and faults reported
	restarts uint64
	since    time.Time // when state was entered
	retryAt  time.Time // when restarting: the next attempt

	task      *loop.Task  // the run, a child of the devices group; nil while none runs
	cmdTask   *loop.Task  // the command task
	restart   *loop.Timer // while restarting: the next attempt
	delay     time.Duration
	started   time.Time // when the current run started
	stopped   bool      // stopDev was called: no restart
	availSent string    // the availability last published
}

// DeviceStatus is one device in the status publication and the status
// method.
type DeviceStatus struct {
	Type     string    `json:"type"`
	State    string    `json:"state"`
	Since    string    `json:"since"`
	Error    string    `json:"error,omitempty"` // the last error, while failing or restarting
	Failures uint64    `json:"failures"`        // failed runs and faults since start
	Restarts uint64    `json:"restarts"`
	RetryAt  string    `json:"retry_at,omitempty"`
	sinceT   time.Time `json:"-"`
}

func (r *devRun) status() DeviceStatus {
	s := DeviceStatus{Type: string(r.cfg.Type), State: r.state, Since: r.since.UTC().Format(TimeFormat),
		Failures: r.failures, Restarts: r.restarts, sinceT: r.since}
	if r.state == StateFailing || r.state == StateRestarting {
		s.Error = r.lastErr
	}
	if r.state == StateRestarting {
		s.RetryAt = r.retryAt.UTC().Format(TimeFormat)
	}
	return s
}

// available reports whether Home Assistant should show the device's
// entities as available.
func (r *devRun) available() bool { return r.state == StateRunning }

// setState moves the device to state; notify tells the agent.
func (a *Agent) setState(r *devRun, state string, err error) {
	if err != nil {
		r.lastErr = err.Error()
	}
	if r.state == state && err == nil {
		return
	}
	r.state, r.since = state, a.l.Now()
	if state != StateStopped {
		a.publishAvailability(r)
	}
	a.deviceChanged()
}

// devicesTask owns the group every device's run is a child of. The group's
// OnChildFailure hook sees a run fail the moment it ends — an error, a
// panic, or an end nobody asked for — and deviceFailed logs it by the
// device's name, counts it, shows it (status, availability) and schedules
// the restart with back-off. The devices are started here, so the group
// exists before any of them runs.
func (a *Agent) devicesTask(t *loop.Task) error {
	a.devGroup = loop.NewGroup(t, loop.OnChildFailure(a.deviceFailed))
	for _, name := range a.order {
		a.startRun(a.devs[name])
	}
	// Shutdown and reload stop the runs themselves, within their deadline;
	// what is still running when this task is cancelled is cancelled and
	// awaited by the group.
	var never loop.WaitQueue
	return never.Wait(t)
}

// startRun starts the device's run as a child of the devices group (later,
// from devicesTask, when the group does not exist yet).
func (a *Agent) startRun(r *devRun) {
	g := a.devGroup
	if g == nil || g.Closed() || r.stopped || r.task != nil && !r.task.Done() {
		return // no group yet, stopping, or running already
	}
	r.restart = nil
	r.env.isReady, r.env.fault = false, nil
	a.setState(r, StateStarting, nil)
	r.started = a.l.Now()
	r.task = g.Go("device:"+r.cfg.Name, func(t *loop.Task) error {
		err := r.dev.run(t, r.env)
		if err == nil && !t.Cancelled() {
			err = errors.New("its task ended")
		}
		return err
	})
}

// deviceFailed is the devices group's OnChildFailure hook: it runs on the
// loop as soon as a device's run has ended with an error.
func (a *Agent) deviceFailed(child *loop.Task, err error) {
	var r *devRun
	for _, x := range a.devs {
		if x.task == child {
			r = x
			break
		}
	}
	if r == nil {
		return // a run of a device that was stopped or replaced meanwhile
	}
	r.task = nil
	var pe *loop.PanicError
	if errors.As(err, &pe) {
		err = fmt.Errorf("panic: %v", pe.Value)
	}
	if r.delay == 0 || r.env.isReady && a.l.Now().Sub(r.started) >= restartMax {
		r.delay = restartMin // the first failure, or it worked for a while: a fresh one
	}
	delay := r.delay
	r.delay = min(2*r.delay, restartMax)
	r.failures++
	r.retryAt = a.l.Now().Add(delay)
	// The group has logged the failure of task device:<name>; this says
	// what happens next.
	a.log.Warn("device failed; restarting", "device", r.cfg.Name, "type", r.cfg.Type, "in", delay, "err", err)
	a.setState(r, StateRestarting, err)
	if r.stopped {
		return
	}
	r.restart = a.l.CallLater(delay, func() {
		if r.stopped || a.devs[r.cfg.Name] != r {
			return
		}
		r.restarts++
		a.startRun(r)
	})
}

// envChanged follows the device's own reports (ready, failing).
func (a *Agent) envChanged(r *devRun) {
	switch {
	case r.env.fault != nil:
		r.failures++
		a.setState(r, StateFailing, r.env.fault)
	case r.env.isReady:
		a.setState(r, StateRunning, nil)
	}
}

// commandTask carries out the device's set commands one at a time.
func (a *Agent) commandTask(t *loop.Task, r *devRun) error {
	for {
		m, err := r.cmds.Get(t)
		if err != nil {
			return err
		}
		v := r.valueByEntity(entityOfCommand(m.Topic))
		if v == nil || !v.Command {
			a.reportError(r.cfg.Name, fmt.Errorf("%s: no value of device %s takes commands there", m.Topic, r.cfg.Name))
			continue
		}
		if r.state != StateRunning {
			a.reportError(r.cfg.Name, fmt.Errorf("%s: command %q refused: device %s is %s (%s)", m.Topic, m.Payload, r.cfg.Name, r.state, r.lastErr))
			continue
		}
		if err := r.dev.command(t, r.env, v, m.Payload); err != nil {
			if t.Cancelled() {
				return err
			}
			a.reportError(r.cfg.Name, fmt.Errorf("%s: command %q: %w", m.Topic, m.Payload, err))
		}
	}
}

func (r *devRun) valueByEntity(entity string) *config.Value {
	for i := range r.cfg.Values {
		if r.cfg.Values[i].Entity == entity {
			return &r.cfg.Values[i]
		}
	}
	return nil
}
