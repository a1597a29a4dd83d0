package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgeagent/edgeagent/bridge/internal/dial"
	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// Errors of the bridge, matched with errors.Is.
var (
	// ErrNotConnected: a Direct publication cannot go out while no broker
	// is connected (nothing stores it for later).
	ErrNotConnected = errors.New("bridge: not connected")
	// ErrClosed: the bridge has ended (its Run returned, or Close).
	ErrClosed = errors.New("bridge: closed")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("bridge: already running")
	// ErrInvalid: bad arguments to a method (a topic with a wildcard, a QoS
	// of 3 …); the error says which.
	ErrInvalid = errors.New("bridge: invalid argument")
)

// A Bridge connects one node's loop to MQTT. Build it with New; its Run
// task keeps the connection; the other methods are called on the loop
// (from tasks and callbacks) unless they say otherwise.
type Bridge struct {
	l        *loop.Loop
	s        settings
	log      *slog.Logger
	topics   topic.Layout
	brokers  []broker
	dialer   dial.Dialer
	password secret
	ob       *outbox.Outbox
	obStats  atomic.Pointer[outbox.Stats]

	// Goroutine side: workers fed through mailboxes, atomics.
	writer     *mailbox[appendReq]
	writerDone chan struct{}
	tryQueued  atomic.Int64 // TryPublish appends waiting for the writer
	roomWanted atomic.Bool  // a task waits in WaitRoom: the writer posts when room is made
	io         *mailbox[ioOp]
	ioQueued   atomic.Int64
	ioDone     chan struct{}
	ctr        counters
	inlet0     *loop.Inlet                // QoS 0 messages on their way to the loop
	shedTable  atomic.Pointer[[]*binding] // the bindings, for counting QoS 0 drops off the loop
	closeOnce  atomic.Bool
	obClosed   chan struct{}

	// Loop side.
	state    runState
	group    *loop.Group
	waiting  []*job // tasks to start when Run starts
	taskSeq  int
	bindings []*binding            // inbound, in the order they were made
	filters  map[string]*filterSub // what the broker is asked for
	unsubs   map[string]bool       // filters to unsubscribe at the next chance
	outputs  map[string][]*job     // outbound bindings by topic
	echoes   map[string]*echoWait  // markers on their way back
	echoSeq  uint64
	conn     *conn // the connection in use; nil while down
	connWQ   loop.WaitQueue
	changed  loop.WaitQueue // woken when Stats may have changed
	roomWQ   loop.WaitQueue // WaitRoom's waiters
	subWQ    loop.WaitQueue // woken when subscriptions need work
	st       loopStats
	ha       *haState
	shutting bool
}

type runState int

const (
	idle runState = iota
	running
	ended
)

// job is a task of the bridge: started when Run starts (or at once if it
// runs), stopped with the bridge or by stop.
type job struct {
	name    string
	fn      loop.TaskFunc
	task    *loop.Task
	stopped bool
}

func (j *job) stop() {
	j.stopped = true
	if j.task != nil {
		j.task.Cancel()
	}
}

func (j *job) done() bool { return j.stopped || j.task != nil && j.task.Done() }

// New checks the options, reads the files they name (TLS material,
// password), opens the outbox in the state directory and returns a bridge
// for l. Nothing touches the network before Run. Every bad option is
// reported, each error naming its option. Call New before l.Run, or from
// loop.Offload: opening the outbox reads the disk.
func New(l *loop.Loop, opts ...Option) (*Bridge, error) {
	if l == nil {
		return nil, errors.New("bridge: New: nil loop")
	}
	s := defaultSettings()
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	errs := s.errs
	bad := func(err error) { errs = append(errs, err) }

	if s.node == "" {
		h, err := os.Hostname()
		if err != nil {
			bad(fmt.Errorf("WithNode: no node id given and the host name is unknown: %w", err))
		}
		s.node = h
	}
	layout, layoutErr := topic.New(s.base, s.node)
	if layoutErr != nil {
		opt := "WithNode"
		if strings.HasPrefix(layoutErr.Error(), "base") {
			opt = "WithBase"
		}
		bad(fmt.Errorf("%s: %w", opt, layoutErr))
	}
	if s.clientID == "" {
		s.clientID = s.node
	}
	if s.backoff.SlowMax < s.backoff.Max {
		bad(fmt.Errorf("WithSlowBackoff: max %v is below WithBackoff's max %v", s.backoff.SlowMax, s.backoff.Max))
	}
	if len(s.brokers) == 0 {
		bad(errors.New("WithBrokers: no broker given (required)"))
	}
	var brokers []broker
	for _, raw := range s.brokers {
		br, err := parseBroker(raw)
		if err != nil {
			bad(fmt.Errorf("WithBrokers: %w", err))
			continue
		}
		brokers = append(brokers, br)
	}
	if s.stateDir == "" {
		bad(errors.New("WithStateDir: no state directory given (required: QoS ≥ 1 publications are kept there)"))
	}
	pw, err := s.readPassword()
	if err != nil {
		bad(err)
	}
	if pw != "" && s.username == "" {
		bad(errors.New("WithPasswordFile/WithPasswordEnv: a password needs WithUsername"))
	}
	log := s.logger
	if log == nil {
		log = l.Logger()
	}
	// TLS brokers without WithTLS get TLS 1.2 and the system's roots.
	dialer := dial.Dialer{Timeout: s.connectTimeout, NoQuickAck: s.noQuickAck, Log: log}
	if c := s.tls; c != nil {
		dialer.TLS, err = dial.TLSConfig(dial.Files{
			CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
			ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify,
		})
		if err != nil {
			bad(fmt.Errorf("WithTLS: %w", err))
		}
	}
	b := &Bridge{
		l:        l,
		s:        s,
		log:      log,
		topics:   layout,
		brokers:  brokers,
		dialer:   dialer,
		password: pw,
		filters:  map[string]*filterSub{},
		unsubs:   map[string]bool{},
		outputs:  map[string][]*job{},
		echoes:   map[string]*echoWait{},
	}
	if s.ha != nil && layoutErr == nil {
		ha, herr := b.buildHA(*s.ha)
		if herr != nil {
			bad(fmt.Errorf("WithHomeAssistant: %w", herr))
		}
		b.ha = ha
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bridge: %w", errors.Join(errs...))
	}
	obOpts := []outbox.Option{
		outbox.WithMaxCount(s.obMaxCount),
		outbox.WithMaxBytes(s.obMaxBytes),
		outbox.WithOverflow(s.obOverflow),
		outbox.WithSync(s.obSync),
		outbox.WithLogger(log),
		outbox.WithClock(l.Clock().Now),
		outbox.WithOnDrop(func(m outbox.Message) {
			log.Warn("bridge: outbox full, oldest message dropped", "seq", m.Seq, "topic", m.Topic)
		}),
	}
	ob, err := outbox.Open(s.stateDir, obOpts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: WithStateDir: %w", err)
	}
	for _, e := range ob.RecoveryErrors() {
		log.Error("bridge: outbox damaged; what followed the damage was set aside", "err", e)
	}
	b.ob = ob
	b.refreshOutboxStats()
	b.shedTable.Store(&b.bindings)
	b.obClosed = make(chan struct{})
	b.writer = newMailbox[appendReq]()
	b.writerDone = make(chan struct{})
	b.io = newMailbox[ioOp]()
	b.ioDone = make(chan struct{})
	go b.writerLoop()
	go b.ioLoop()
	// The bridge's own subscriptions, routed on the loop like any other.
	b.addBinding(&binding{filter: b.echoTopic(), kind: kindBridge, route: b.routeEcho}, 0)
	b.addBinding(&binding{filter: layout.Availability(), kind: kindBridge, route: b.routeAvailability}, 1)
	if b.ha != nil {
		b.addBinding(&binding{filter: s.haBirth, kind: kindBridge, route: b.routeBirth}, 1)
	}
	b.start("bridge/subscriptions", b.subscriber)
	if s.statusInterval > 0 {
		b.start("bridge/status", b.statusTask)
	}
	return b, nil
}

// Topics returns the node's topic layout.
func (b *Bridge) Topics() topic.Layout { return b.topics }

// Node returns the node id.
func (b *Bridge) Node() string { return b.topics.Node() }

// Logger returns the bridge's logger (WithLogger, or the loop's), for the
// packages built on the bridge.
func (b *Bridge) Logger() *slog.Logger { return b.log }

// randomID returns 8 hex digits, to tell apart what two bridges on one
// loop name alike.
func randomID() string {
	var p [4]byte
	_, _ = rand.Read(p[:])
	return hex.EncodeToString(p[:])
}

// ClientID returns the MQTT client id the bridge connects with: WithClientID,
// or by default the node id.
func (b *Bridge) ClientID() string { return b.s.clientID }

// start runs fn as a task of the bridge: now if Run is running, else when
// it starts.
func (b *Bridge) start(name string, fn loop.TaskFunc) *job {
	b.taskSeq++
	j := &job{name: fmt.Sprintf("%s#%d", name, b.taskSeq), fn: fn}
	if b.state == running {
		j.task = b.group.Go(j.name, fn)
	} else {
		b.waiting = append(b.waiting, j)
	}
	return j
}

// Run is the bridge's task: it connects, keeps the connection (reconnecting
// on the back-off schedule, failing over between brokers and returning to
// the preferred one), runs the tasks of the bindings, and sends the outbox.
// It returns when t is cancelled, after publishing "offline" and
// disconnecting within WithShutdownTimeout, with the cancellation error. A
// bridge runs once; its outbox is closed when Run returns.
func (b *Bridge) Run(t *loop.Task) error {
	switch b.state {
	case running:
		return ErrRunning
	case ended:
		return ErrClosed
	}
	b.state = running
	// Made here, on the loop (New may run off it): nothing arrives before
	// the first connect.
	b.inlet0 = b.l.NewInlet(fmt.Sprintf("bridge %s QoS 0 [%s]", b.s.clientID, randomID()), b.s.qos0Backlog)
	b.group = loop.NewGroup(t)
	for _, j := range b.waiting {
		if !j.stopped {
			j.task = b.group.Go(j.name, j.fn)
		}
	}
	b.waiting = nil
	err := b.manage(t)
	b.shutting = true
	last := b.conn
	serr := loop.Shield(t, func(t *loop.Task) error {
		return loop.WaitFor(t, b.s.shutdownTimeout, b.shutdown)
	})
	switch {
	case errors.Is(serr, loop.ErrTimeout):
		b.log.Warn("bridge: shutdown took longer than its bound; link dropped (the broker publishes the will)",
			"bound", b.s.shutdownTimeout)
	case serr != nil:
		b.log.Warn("bridge: shutdown", "err", serr)
	}
	b.state = ended
	b.roomWQ.WakeAll() // WaitRoom reports ErrClosed
	// Whatever the shutdown got through, nothing stays open (after a clean
	// DISCONNECT this does nothing).
	if last != nil {
		last.drop()
		b.connDown(last)
	}
	b.closeWorkers()
	// The outbox closes once the workers have finished with it; wait for
	// that within the shutdown bound too.
	//loopvet:ok Run is ending anyway: a timeout here only means the outbox closes later, on its own
	_ = loop.Shield(t, func(t *loop.Task) error {
		return loop.WaitFor(t, b.s.shutdownTimeout, b.waitOutboxClosed)
	})
	b.notify()
	return err
}

// waitOutboxClosed waits until the workers have closed the outbox.
func (b *Bridge) waitOutboxClosed(t *loop.Task) error {
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		select {
		case <-b.obClosed:
			return struct{}{}, nil
		case <-ctx.Done():
			return struct{}{}, ctx.Err()
		}
	})
	return err
}

// Close releases the outbox of a bridge that was never Run (Run does it
// itself). It may be called from any goroutine; later calls do nothing.
func (b *Bridge) Close() error {
	if b.closeWorkers() {
		<-b.obClosed
	}
	return nil
}

// closeWorkers stops the workers; the outbox is closed by the last of
// them. It reports whether this call did it.
func (b *Bridge) closeWorkers() bool {
	if !b.closeOnce.CompareAndSwap(false, true) {
		return false
	}
	b.writer.close()
	b.io.close()
	go func() {
		<-b.writerDone
		<-b.ioDone
		b.refreshOutboxStats()
		if err := b.ob.Close(); err != nil {
			b.log.Warn("bridge: closing the outbox", "err", err)
		}
		close(b.obClosed)
	}()
	return true
}

// shutdown ends the bridge on Run's way out, whether Run's task was
// cancelled or the loop's context: the bridge's tasks stop; the sender
// stops taking messages and its in-flight window is acknowledged; "offline"
// is published, retained; everything the writer still holds goes into the
// outbox, which is synced and closed; DISCONNECT comes last. Run bounds it
// with WithShutdownTimeout; past that, the link is dropped without a
// DISCONNECT, so the broker publishes the will ("offline") instead.
func (b *Bridge) shutdown(t *loop.Task) error {
	gerr := b.group.Stop(t)
	if gerr != nil && !isInterrupt(gerr) {
		b.log.Warn("bridge: tasks ended with errors", "err", gerr)
	}
	for _, w := range b.echoes {
		w.finish()
	}
	c := b.conn
	clean := false
	if c != nil && !c.down {
		c.retiring = true
		ok, err := b.leave(t, c)
		if err != nil {
			return err // Run drops the link
		}
		clean = ok
	}
	if c != nil {
		b.connDown(c)
	}
	b.closeWorkers()
	if err := b.waitOutboxClosed(t); err != nil {
		return err
	}
	if c == nil {
		return nil
	}
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		c.end(clean)
		c.waitSender(ctx)
		return struct{}{}, nil
	})
	return err
}

// notify wakes whoever watches the bridge's state (WaitConnected, tests).
func (b *Bridge) notify() { b.changed.WakeAll() }

// Connected reports whether a broker is connected and the session set up
// far enough to publish.
func (b *Bridge) Connected() bool { return b.conn != nil && !b.conn.down && b.conn.ready }

// WaitConnected waits until a broker is connected. Like every await, it
// fails at once for a task that has been cancelled, connected or not.
func (b *Bridge) WaitConnected(t *loop.Task) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	for !b.Connected() {
		if b.state == ended {
			return ErrClosed
		}
		if err := b.changed.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// WaitChange waits until the bridge's state may have changed: a connect or
// a loss, a subscription's state, a counter in Stats. It is how a task
// watches Stats without polling.
func (b *Bridge) WaitChange(t *loop.Task) error { return b.changed.Wait(t) }

func isInterrupt(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}

// Availability payloads.
const (
	payloadOnline  = "online"
	payloadOffline = "offline"
)

// shutdownGrace is how long, at most, a graceful DISCONNECT waits for paho
// to finish what it is sending.
const shutdownGrace = 250 * time.Millisecond
