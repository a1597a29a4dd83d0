package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/loop"
)

// A device is one configured device at work. Each device type has one file,
// dev_<type>.go, holding its constructor (a case of newDevice) and its type;
// everything else — supervision, publication through the filters, Home
// Assistant entities, routing of set commands, the read method — is the
// agent's and shared by all types:
//
//   - built from: its *config.Device (the typed Spec and the Values it
//     publishes) and the Hardware that opens its pins and buses. A simulated
//     device (Spec.Simulated) builds its twin instead — the drivers' test
//     doubles, driven by a simulation task — and never touches Hardware.
//   - run: its driver task(s), under the agent's supervisor. Run opens the
//     hardware, calls env.ready once it works, reports what it observes with
//     env.state and env.event, and returns only when cancelled or failed;
//     the supervisor restarts a failed run with back-off.
//   - entities: by default those Values describe (entitiesOf); a device that
//     needs more implements entityMaker (the LED's light).
//   - commands: command carries out a set command for one of its values and
//     then reports the new state; called on the device's command task, one at
//     a time, while run runs.
//   - read: the device's readings now, for the read method.
type device interface {
	run(t *loop.Task, env *devEnv) error
	command(t *loop.Task, env *devEnv, v *config.Value, payload []byte) error
	read(t *loop.Task, env *devEnv) (any, error)
}

// entityMaker is implemented by a device whose Home Assistant entities are
// more than its Values say.
type entityMaker interface {
	entities(d *config.Device, base []hass.Entity) []hass.Entity
}

// errNoCommands is the error of command on a device that takes none.
var errNoCommands = errors.New("takes no commands")

// errNotRunning is the error of read on a device whose run has not opened
// its hardware.
var errNotRunning = errors.New("not running")

// openI2C returns the bus of an I2C device and what closes it: the
// simulated chip sim makes when simulated, else the machine's bus named
// bus (from hw).
func openI2C(hw Hardware, bus string, simulated bool, sim func() i2c.Bus) (i2c.Bus, func(), error) {
	if simulated {
		return sim(), func() {}, nil
	}
	b, err := hw.I2C(bus)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { _ = b.Close() }, nil
}

// newDevice builds the device d configures, one case per type.
func newDevice(d *config.Device, hw Hardware) (device, error) {
	switch s := d.Spec.(type) {
	case *config.System:
		return newSystem(s)
	case *config.Output:
		return newOutputDev(s, hw)
	case *config.Pushbutton:
		return newPushbutton(s, hw)
	case *config.LED:
		return newLED(s, hw)
	case *config.Contact:
		return newContact(s, hw)
	case *config.HTU21D:
		return newHTU21D(s, hw)
	case *config.UARTLines:
		return newUARTLines(s)
	case *config.NECIR:
		return newNECIR(s, hw)
	case *config.ADXL345:
		return newADXL345(s, hw)
	case *config.ATModem:
		return newATModem(s)
	}
	return nil, fmt.Errorf("device type %s has no implementation", d.Type)
}

// devEnv is what a device's run sees of the agent.
type devEnv struct {
	dev  *config.Device
	l    *loop.Loop
	log  *slog.Logger
	hw   Hardware
	outs map[string]*output // by value name ("" for a device with one value)

	isReady bool
	fault   error
	changed func() // the device's state changed (ready, fault)
	// room waits while the bridge's memory for publications on their way to
	// the outbox is half full: a device that can hold back (a serial
	// reader, whose receive buffer holds the rest) calls it between batches.
	room func(t *loop.Task) error
}

// state reports an observation of the state value name ("" for a device
// with one value), made at time at.
func (e *devEnv) state(name string, v any, at time.Time) {
	if o := e.outs[name]; o != nil {
		o.observe(v, at)
		return
	}
	e.log.Error("device reported an unknown value", "device", e.dev.Name, "value", name)
}

// event reports an event of type typ of the event value name.
func (e *devEnv) event(name, typ string, attrs map[string]any, at time.Time) {
	if o := e.outs[name]; o != nil {
		o.event(typ, attrs, at)
		return
	}
	e.log.Error("device reported an unknown value", "device", e.dev.Name, "value", name)
}

// ready tells the supervisor that the device's hardware is open and works
// (again): its availability turns online and its fault, if any, clears.
func (e *devEnv) ready() {
	if e.isReady && e.fault == nil {
		return
	}
	e.isReady, e.fault = true, nil
	e.changed()
}

// failing reports a fault the device's run survives and retries itself (a
// sensor that stopped answering): the device shows as failing and
// unavailable until ready is called again.
func (e *devEnv) failing(err error) {
	if e.fault != nil && e.fault.Error() == err.Error() {
		return
	}
	if e.fault == nil {
		e.log.Warn("device failing", "device", e.dev.Name, "err", err)
	}
	e.fault = err
	e.changed()
}

// nextAligned is the first instant after now that is a whole multiple of
// every: the grid sleepAligned and the status publication share.
func nextAligned(now time.Time, every time.Duration) time.Time {
	return now.Truncate(every).Add(every)
}

// sleepAligned sleeps until the next instant that is a whole multiple of
// every on the loop's clock (every 10 s: at :00, :10, :20 …), so periodic
// work — the system readings, the modem's signal, the status — falls on
// shared instants and the process wakes once for all of it rather than once
// for each at its own phase. The first sleep may be shorter than every.
func sleepAligned(t *loop.Task, every time.Duration) error {
	now := t.Loop().Now()
	return t.Sleep(nextAligned(now, every).Sub(now))
}

// now is the loop's time.
func (e *devEnv) now() time.Time { return e.l.Now() }

// readings returns the latest observation of every value, by entity id.
func (e *devEnv) readings() map[string]reading {
	m := map[string]reading{}
	for _, v := range e.dev.Values {
		if r, ok := e.outs[v.Name].read(); ok {
			m[v.Entity] = r
		}
	}
	return m
}
