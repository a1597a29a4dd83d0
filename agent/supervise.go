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
// restartMin, doubling up to restartMax; a run that stayed ready for
// restartMax starts the schedule afresh.
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

	task      *loop.Task // the supervisor task
	availSent string     // the availability last published
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

// supervise is the device's supervisor task: it runs the device's run as a
// child task, and when that fails — an error, a panic, or an end nobody
// asked for — logs it by the device's name, shows it, and runs it again
// after a back-off. Only cancellation ends it.
func (a *Agent) supervise(t *loop.Task, r *devRun) error {
	delay := restartMin
	for {
		r.env.isReady, r.env.fault = false, nil
		a.setState(r, StateStarting, nil)
		started := a.l.Now()
		// Not a group's child: a run whose cleanup never ends must not hold
		// its supervisor beyond the agent's shutdown timeout.
		child := a.l.Go("device:"+r.cfg.Name, func(t *loop.Task) error { return r.dev.run(t, r.env) })
		err := child.Wait(t)
		if t.Cancelled() {
			child.Cancel()
			// The run's cleanup finishes first; the caller bounds the wait.
			err := loop.Shield(t, child.Wait)
			a.setState(r, StateStopped, nil)
			return errors.Join(loop.ErrCancelled, ignoreCancel(err))
		}
		if err == nil {
			err = errors.New("its task ended")
		}
		var pe *loop.PanicError
		if errors.As(err, &pe) {
			err = fmt.Errorf("panic: %v", pe.Value)
		}
		if r.env.isReady && a.l.Now().Sub(started) >= restartMax {
			delay = restartMin // it worked for a while: a fresh failure
		}
		r.failures++
		r.retryAt = a.l.Now().Add(delay)
		// The loop has logged the failure of task device:<name>; this says
		// what happens next.
		a.log.Warn("device failed; restarting", "device", r.cfg.Name, "type", r.cfg.Type, "in", delay, "err", err)
		a.setState(r, StateRestarting, err)
		if err := t.Sleep(delay); err != nil {
			a.setState(r, StateStopped, nil)
			return err
		}
		r.restarts++
		delay = min(2*delay, restartMax)
	}
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

// ignoreCancel drops a cancellation, keeping any other error.
func ignoreCancel(err error) error {
	if errors.Is(err, loop.ErrCancelled) {
		return nil
	}
	return err
}
