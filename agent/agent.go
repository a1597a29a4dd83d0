package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// An Agent is a configuration at work: one loop running the devices, the
// MQTT bridge with Home Assistant discovery, the request methods, the
// status publication and the systemd notifications. Build it with New and
// run it with Run; Reload may be called from any goroutine.
type Agent struct {
	cfg     *config.Config
	l       *loop.Loop
	log     *slog.Logger
	logh    *LogHandler // the logger's handler when a reload can change it
	hw      Hardware
	notify  *sdnotify.Notifier
	version string
	load    func() (*config.Config, error)
	started time.Time

	// The bridge, replaced when a reload changes the MQTT connection's
	// settings (a discovery change is applied to the running one). While it
	// is being replaced (b nil) publications wait in pending.
	b       *bridge.Bridge
	bTask   *loop.Task
	topics  topic.Layout
	rpc     *rpc.Server
	rpcTask *loop.Task
	pending []pendingMsg
	dropped uint64 // publications lost while the bridge was replaced
	pubErrs uint64

	wdTask   *loop.Task   // the systemd watchdog: stopped last
	aux      []*loop.Task // the devices group's owner, commands, reloads, status, readiness
	devGroup *loop.Group  // every device's run is a child; nil until the devices task runs
	devs     map[string]*devRun
	order    []string
	byEntity map[string]*devRun

	commands *primitives.Queue[bridge.Message]
	reloads  *primitives.Queue[*reloadJob]

	statusDirty bool
	statusWQ    loop.WaitQueue

	stopping bool
	inflight int
	idleWQ   loop.WaitQueue
	firstTry bool // the first connection attempt is over
	reloadsN uint64
}

// pendingMsg is a publication waiting for the new bridge.
type pendingMsg struct {
	topic   string
	payload []byte
	p       config.Publish
}

// maxPending bounds the publications kept while the bridge is replaced.
const maxPending = 10000

// Option configures an Agent.
type Option func(*options)

type options struct {
	log     *slog.Logger
	clock   loop.Clock
	hw      Hardware
	notify  *sdnotify.Notifier
	version string
	load    func() (*config.Config, error)
}

// WithLogger sets the logger; the default writes to standard error as the
// configuration's log section says (NewLogger). The log section is applied
// to a logger whose handler is a *LogHandler, at New and on every reload;
// another logger is used as it is.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the loop's clock (tests use loop.NewVirtualClock).
func WithClock(c loop.Clock) Option { return func(o *options) { o.clock = c } }

// WithHardware sets what opens the pins and buses of the devices that are
// not simulated; the default is the machine's (NewHostHardware).
func WithHardware(h Hardware) Option { return func(o *options) { o.hw = h } }

// WithNotifier sets the systemd notifier; the default reads the
// environment (sdnotify.New).
func WithNotifier(n *sdnotify.Notifier) Option { return func(o *options) { o.notify = n } }

// WithVersion sets the version the agent reports (status, Home Assistant).
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithLoader sets how Reload reads the configuration again; the default
// loads the file the configuration came from (Config.File).
func WithLoader(load func() (*config.Config, error)) Option {
	return func(o *options) { o.load = load }
}

// NewLogger returns the logger the configuration's log section asks for,
// writing to standard error. Its handler is a *LogHandler: an agent given
// it (or building it itself) applies the log section of a reload to it.
func NewLogger(c config.Log) *slog.Logger {
	return slog.New(NewLogHandler(os.Stderr, c))
}

// New builds the agent of cfg: the loop, the bridge (opening its outbox
// under cfg.StateDir and reading its TLS and password files) and the
// devices. Nothing runs, and no hardware is opened, before Run.
func New(cfg *config.Config, opts ...Option) (*Agent, error) {
	o := options{version: "devel"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = NewLogger(cfg.Log)
	}
	logh, _ := o.log.Handler().(*LogHandler)
	if logh != nil {
		logh.Set(cfg.Log)
	}
	if o.hw == nil {
		o.hw = NewHostHardware()
	}
	if o.notify == nil {
		o.notify = sdnotify.New(sdnotify.WithLogger(o.log))
	}
	if o.load == nil {
		file := cfg.File
		o.load = func() (*config.Config, error) { return LoadConfig(file, o.hw) }
	}
	lopts := []loop.Option{loop.WithLogger(o.log), loop.WithShutdownTimeout(2 * time.Second)}
	if o.clock != nil {
		lopts = append(lopts, loop.WithClock(o.clock))
	}
	a := &Agent{
		cfg: cfg, l: loop.New(lopts...), log: o.log, logh: logh, hw: o.hw, notify: o.notify, version: o.version, load: o.load,
		devs: map[string]*devRun{}, byEntity: map[string]*devRun{},
		commands: primitives.NewQueue[bridge.Message](64),
		reloads:  primitives.NewQueue[*reloadJob](4),
	}
	b, err := a.newBridge(cfg)
	if err != nil {
		return nil, err
	}
	a.setBridge(b)
	for _, d := range cfg.Devices {
		r, err := a.newDevRun(d, nil)
		if err != nil {
			_ = b.Close()
			return nil, err
		}
		a.addDev(r)
	}
	return a, nil
}

// LoadConfig loads the configuration at path. When a device that is not
// simulated needs a pin or a bus and the machine is a board with GPIO, the
// pins and buses are checked against it (hw's host drivers are then
// initialised); otherwise only their form is checked.
func LoadConfig(path string, hw Hardware) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil || !needsHardware(cfg) {
		return cfg, err
	}
	if h, ok := hw.(*HostHardware); ok {
		if board, ok := HostBoard(h); ok {
			return config.Load(path, config.WithBoard(board))
		}
	}
	return cfg, nil
}

// needsHardware reports whether a device of cfg uses a pin or a bus of
// this machine.
func needsHardware(cfg *config.Config) bool {
	for _, d := range cfg.Devices {
		if d.Spec.Simulated() {
			continue
		}
		switch d.Spec.(type) {
		case *config.System, *config.UARTLines, *config.ATModem:
		default:
			return true
		}
	}
	return false
}

// Loop returns the agent's loop.
func (a *Agent) Loop() *loop.Loop { return a.l }

// Reload asks the running agent to read its configuration again (what
// SIGHUP does). It returns at once; the outcome is logged. It is safe from
// any goroutine.
func (a *Agent) Reload() {
	_ = a.l.Post(func() {
		if err := a.reloads.TryPut(nil); err != nil {
			a.log.Warn("reload: already queued")
		}
	})
}

// Run runs the agent until ctx is cancelled (SIGTERM, SIGINT), then stops
// it gracefully: "offline" retained, no more commands, requests in progress
// answered, devices stopped, the outbox flushed — within the
// configuration's shutdown_timeout. It returns nil after a graceful stop,
// else what went wrong.
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.l.Now()
	err := a.l.Run(ctx, a.main)
	if errors.Is(err, loop.ErrCancelled) {
		return nil
	}
	return err
}

func (a *Agent) main(t *loop.Task) error {
	a.started = a.l.Now()
	a.status("starting")
	// The agent's tasks are not a group of main: a group's owner counts as
	// done only once its children have ended, so a device whose cleanup
	// never ends would hold main, and the process, for ever. Main stops them
	// in order within shutdown_timeout; what is still alive after that, the
	// loop kills at the end of Run (and names).
	a.bTask = a.l.Go("bridge", a.b.Run)
	a.rpcTask = a.l.Go("requests", a.rpc.Run)
	a.wdTask = a.l.Go("watchdog", a.notify.Watchdog)
	// The devices first: their group exists before a reload can add one.
	a.aux = []*loop.Task{a.l.Go("devices", a.devicesTask), a.l.Go("commands", a.routeCommands),
		a.l.Go("reload", a.reloadTask), a.l.Go("status", a.statusTask), a.l.Go("ready", a.readyTask)}
	for _, name := range a.order {
		a.startDev(a.devs[name])
	}
	// Wait for the stop: Run's context cancelled.
	var never loop.WaitQueue
	err := never.Wait(t)
	if !errors.Is(err, loop.ErrCancelled) {
		return err
	}
	return loop.Shield(t, a.shutdown)
}

// shutdown stops the agent in order, within the shutdown timeout.
func (a *Agent) shutdown(t *loop.Task) error {
	timeout := a.cfg.ShutdownTimeout
	a.log.Info("stopping", "timeout", timeout)
	start := a.l.Now()
	stage := "telling systemd"
	err := loop.WaitFor(t, timeout, func(t *loop.Task) error {
		if err := sdnotify.OffLoop(t, a.notify.Stopping); err != nil {
			return err
		}
		// No more commands or requests: what arrives now is not acted on.
		a.stopping = true
		stage = "answering requests in progress"
		for a.inflight > 0 {
			if err := a.idleWQ.Wait(t); err != nil {
				return err
			}
		}
		stage = "stopping the devices"
		var devs []*loop.Task
		for _, r := range a.devs {
			devs = append(devs, a.haltDev(r)...)
		}
		if err := stopTasks(t, devs...); err != nil {
			return err
		}
		if err := stopTasks(t, a.aux...); err != nil {
			return err
		}
		// The bridge publishes "offline" (retained), flushes the outbox
		// and disconnects.
		if err := stopTasks(t, a.rpcTask); err != nil {
			return err
		}
		stage = "stopping the MQTT bridge (offline, outbox, disconnect)"
		if a.bTask != nil {
			a.bTask.Cancel()
			if err := a.bTask.Wait(t); err != nil && !errors.Is(err, loop.ErrCancelled) {
				return fmt.Errorf("MQTT bridge: %w", err)
			}
		}
		stage = "stopping the watchdog"
		return stopTasks(t, a.wdTask)
	})
	if errors.Is(err, loop.ErrCancelled) {
		err = nil
	}
	if errors.Is(err, loop.ErrTimeout) {
		return fmt.Errorf("shutdown took longer than %v: still %s", timeout, stage)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped", "took", a.l.Now().Sub(start).Round(time.Millisecond))
	return nil
}

// newDevRun makes the supervision record of a device, building the device
// unless dev is given.
func (a *Agent) newDevRun(d *config.Device, dev device) (*devRun, error) {
	if dev == nil {
		var err error
		if dev, err = newDevice(d, a.hw); err != nil {
			return nil, fmt.Errorf("%s: devices: %s: %w", d.Pos, d.Name, err)
		}
	}
	r := &devRun{cfg: d, dev: dev, cmds: primitives.NewQueue[bridge.Message](16), state: StateStopped, since: a.l.Now()}
	r.env = &devEnv{dev: d, l: a.l, log: a.log.With("device", d.Name), hw: a.hw, outs: map[string]*output{},
		changed: func() { a.envChanged(r) }, room: a.waitRoom}
	for i := range d.Values {
		v := &d.Values[i]
		o, err := newOutput(a.l, v, a.topics, a, func(err error) { a.log.Warn("publication failed", "device", d.Name, "err", err) })
		if err != nil {
			return nil, fmt.Errorf("%s: devices: %s: %w", d.Pos, d.Name, err)
		}
		r.env.outs[v.Name] = o
	}
	if s, ok := dev.(interface{ setAgent(*Agent) }); ok {
		s.setAgent(a)
	}
	return r, nil
}

func (a *Agent) addDev(r *devRun) {
	a.devs[r.cfg.Name] = r
	a.order = append(a.order, r.cfg.Name)
	for _, v := range r.cfg.Values {
		a.byEntity[v.Entity] = r
	}
}

func (a *Agent) removeDev(name string) {
	r := a.devs[name]
	delete(a.devs, name)
	a.order = slices.DeleteFunc(a.order, func(n string) bool { return n == name })
	for _, v := range r.cfg.Values {
		if a.byEntity[v.Entity] == r {
			delete(a.byEntity, v.Entity)
		}
	}
	for _, o := range r.env.outs {
		o.stop()
	}
}

// startDev starts a device: its command task, and its run under the
// devices group (at once, or when the group starts).
func (a *Agent) startDev(r *devRun) {
	r.cmdTask = a.l.Go("commands:"+r.cfg.Name, func(t *loop.Task) error { return a.commandTask(t, r) })
	a.startRun(r)
}

// haltDev stops a device's restarts and cancels its tasks, returning those
// still to be awaited.
func (a *Agent) haltDev(r *devRun) []*loop.Task {
	r.stopped = true
	if r.restart != nil {
		r.restart.Stop()
		r.restart = nil
	}
	var ts []*loop.Task
	for _, c := range []*loop.Task{r.task, r.cmdTask} {
		if c != nil && !c.Done() {
			c.Cancel()
			ts = append(ts, c)
		}
	}
	return ts
}

// stopDev stops a device and waits for it.
func (a *Agent) stopDev(t *loop.Task, r *devRun) {
	for _, c := range a.haltDev(r) {
		if err := c.Wait(t); err != nil && !errors.Is(err, loop.ErrCancelled) {
			a.log.Warn("device stopped with an error", "device", r.cfg.Name, "err", err)
		}
	}
	r.task, r.cmdTask = nil, nil
	a.setState(r, StateStopped, nil)
}

// routeCommands hands each set command to its device's command task.
func (a *Agent) routeCommands(t *loop.Task) error {
	for {
		m, err := a.commands.Get(t)
		if err != nil {
			return err
		}
		if m.Retained {
			// A retained command would act again on every connect.
			a.log.Warn("ignoring a retained command: publish commands without the retain flag", "topic", m.Topic)
			continue
		}
		if a.stopping {
			continue
		}
		r := a.byEntity[entityOfCommand(m.Topic)]
		if r == nil {
			a.reportError("commands", fmt.Errorf("%s: no such entity on this node", m.Topic))
			continue
		}
		if err := r.cmds.TryPut(m); err != nil {
			a.reportError(r.cfg.Name, fmt.Errorf("%s: command %q dropped: the device has %d commands waiting", m.Topic, m.Payload, r.cmds.Len()))
		}
	}
}

// entityOfCommand returns the entity level of <base>/<node>/<entity>/set.
func entityOfCommand(topic string) string {
	s := strings.TrimSuffix(topic, "/set")
	return s[strings.LastIndexByte(s, '/')+1:]
}

// reportError publishes an error that has no request to answer on the
// node's error topic, and logs it.
func (a *Agent) reportError(source string, err error) {
	a.log.Warn("command failed", "source", source, "err", err)
	if a.b != nil {
		a.b.ReportError(source, err)
	}
}

// status sets the one-line status systemd shows.
func (a *Agent) status(s string) {
	n := a.notify
	if !n.Enabled() {
		return
	}
	// A service manager that stopped reading must not block the loop. The
	// sends race off the loop; OrderedStatus, called here, keeps their order.
	send := n.OrderedStatus(s)
	a.l.Go("sd-status", func(t *loop.Task) error { return sdnotify.OffLoop(t, send) })
}

// readyTask tells systemd the agent is ready once the first connection
// attempt is over, whatever its outcome (a broker that is away must not
// keep the service "activating": the agent works offline too), and then
// keeps the status line up to date with the connection.
//
// A reload may replace the bridge at any await: a.b is read afresh after
// each, and is nil while the replacement lasts.
func (a *Agent) readyTask(t *loop.Task) error {
	for !a.firstTry {
		b := a.b
		if b == nil {
			if err := t.Sleep(100 * time.Millisecond); err != nil {
				return err
			}
			continue
		}
		s := b.Stats()
		if s.Connected || s.ConnectFailures > 0 {
			break
		}
		if err := b.WaitChange(t); err != nil {
			return err
		}
	}
	a.firstTry = true
	if err := sdnotify.OffLoop(t, a.notify.Ready); err != nil {
		return err
	}
	a.log.Info("ready", "node", a.cfg.MQTT.NodeID, "devices", len(a.devs), "connected", a.b != nil && a.b.Connected(),
		"took", a.l.Now().Sub(a.started).Round(time.Millisecond))
	a.deviceChanged()
	// From now on the line systemd shows follows the connection too — of
	// the current bridge: a reload may replace it, and the new one may
	// have connected before this task looks at it, so the check comes
	// before each wait, against the bridge it was made for.
	seen, connected := a.b, a.b != nil && a.b.Connected()
	for {
		b := a.b
		if b == nil { // being replaced by a reload
			if err := t.Sleep(100 * time.Millisecond); err != nil {
				return err
			}
			continue
		}
		if c := b.Connected(); b != seen || c != connected {
			seen, connected = b, c
			a.summary()
		}
		if err := b.WaitChange(t); err != nil {
			if t.Cancelled() {
				return err
			}
			if err := t.Sleep(time.Second); err != nil { // a bridge that ended: its successor comes
				return err
			}
		}
	}
}

// stopTasks cancels the tasks and waits until they have ended — or until
// the caller's deadline, unlike Group.Stop, which waits whatever happens:
// a stop bounded by shutdown_timeout must be able to give up. Nil tasks
// (ended already) are skipped.
func stopTasks(t *loop.Task, tasks ...*loop.Task) error {
	for _, c := range tasks {
		if c != nil {
			c.Cancel()
		}
	}
	for _, c := range tasks {
		if c == nil {
			continue
		}
		if err := c.Wait(t); err != nil && t.Checkpoint() != nil {
			return err // the deadline passed
		}
	}
	return nil
}
