package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// Errors of the bridge, matched with errors.Is.
var (
	// ErrNotConnected: a request cannot be sent while no broker is
	// connected (requests are never stored: see Request).
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
	topics   Topics
	brokers  []broker
	tlsConf  *tls.Config
	password secret
	ob       *outbox.Outbox
	obStats  atomic.Pointer[outbox.Stats]

	// Goroutine side: workers fed through mailboxes, atomics.
	writer     *mailbox[appendReq]
	writerDone chan struct{}
	io         *mailbox[ioOp]
	ioQueued   atomic.Int64
	ioDone     chan struct{}
	ctr        counters
	closeOnce  atomic.Bool
	obClosed   chan struct{}

	// Loop side.
	state    runState
	group    *loop.Group
	starters []starter
	taskSeq  int
	subs     []*subscription
	inboxes  []*inbox
	methods  map[string]*method
	calls    map[string]*call
	callSeq  uint64
	idPrefix string
	conn     *conn // the connection in use; nil while down
	connWQ   loop.WaitQueue
	changed  loop.WaitQueue // woken when Stats may have changed
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

// starter is a task to start when Run starts (or at once if it runs).
type starter struct {
	name string
	fn   loop.TaskFunc
}

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
	topics, topicsErr := NewTopics(s.base, s.node)
	if topicsErr != nil {
		opt := "WithNode"
		if strings.HasPrefix(topicsErr.Error(), "base") {
			opt = "WithBase"
		}
		bad(fmt.Errorf("%s: %w", opt, topicsErr))
	}
	if s.clientID == "" {
		s.clientID = strings.ReplaceAll(s.base, "/", "-") + "-" + s.node
	}
	if len(s.brokers) == 0 {
		bad(errors.New("WithBrokers: no broker given (required)"))
	}
	var brokers []broker
	wantTLS := false
	for _, raw := range s.brokers {
		br, err := parseBroker(raw)
		if err != nil {
			bad(fmt.Errorf("WithBrokers: %w", err))
			continue
		}
		wantTLS = wantTLS || br.tls
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
	var tlsConf *tls.Config
	if s.tls != nil {
		tlsConf, err = buildTLS(s.tls)
		if err != nil {
			bad(err)
		}
	} else if wantTLS {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	log := s.logger
	if log == nil {
		log = l.Logger()
	}
	b := &Bridge{
		l:        l,
		s:        s,
		log:      log,
		topics:   topics,
		brokers:  brokers,
		tlsConf:  tlsConf,
		password: pw,
		methods:  map[string]*method{},
		calls:    map[string]*call{},
		idPrefix: randomID(),
	}
	if s.ha != nil && topicsErr == nil {
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
	b.obClosed = make(chan struct{})
	b.writer = newMailbox[appendReq]()
	b.writerDone = make(chan struct{})
	b.io = newMailbox[ioOp]()
	b.ioDone = make(chan struct{})
	go b.writerLoop()
	go b.ioLoop()
	// Infrastructure subscriptions, routed on the loop like any other.
	b.addSub(&subscription{filter: topics.Reply(), qos: 1, route: b.routeReply})
	b.addSub(&subscription{filter: topics.Availability(), qos: 1, route: b.routeAvailability})
	if b.ha != nil {
		b.addSub(&subscription{filter: s.haBirth, qos: 1, route: b.routeBirth})
	}
	if s.statusInterval > 0 {
		b.start("bridge/status", b.statusTask)
	}
	return b, nil
}

func randomID() string {
	var p [4]byte
	_, _ = rand.Read(p[:])
	return hex.EncodeToString(p[:])
}

// Topics returns the node's topic layout.
func (b *Bridge) Topics() Topics { return b.topics }

// Node returns the node id.
func (b *Bridge) Node() string { return b.topics.node }

// start runs fn as a task of the bridge: now if Run is running, else when
// it starts.
func (b *Bridge) start(name string, fn loop.TaskFunc) *loop.Task {
	b.taskSeq++
	name = fmt.Sprintf("%s#%d", name, b.taskSeq)
	if b.state == running {
		return b.group.Go(name, fn)
	}
	b.starters = append(b.starters, starter{name, fn})
	return nil
}

// Run is the bridge's task: it connects, keeps the connection (reconnecting
// with back-off, failing over between brokers and returning to the
// preferred one), runs the tasks of the bindings and handlers, and sends the
// outbox. It returns when t is cancelled, after publishing "offline" and
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
	b.group = loop.NewGroup(t)
	for _, s := range b.starters {
		b.group.Go(s.name, s.fn)
	}
	b.starters = nil
	err := b.manage(t)
	b.shutting = true
	serr := loop.Shield(t, func(t *loop.Task) error {
		return loop.WaitFor(t, b.s.shutdownTimeout, b.shutdown)
	})
	if serr != nil && !errors.Is(serr, loop.ErrTimeout) {
		b.log.Warn("bridge: shutdown", "err", serr)
	}
	b.state = ended
	b.closeWorkers()
	// The outbox closes once the workers have finished with it; wait for
	// that within the shutdown bound too.
	//loopvet:ok Run is ending anyway: a timeout here only means the outbox closes later, on its own
	_ = loop.Shield(t, func(t *loop.Task) error {
		return loop.WaitFor(t, b.s.shutdownTimeout, func(t *loop.Task) error {
			_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
				select {
				case <-b.obClosed:
				case <-ctx.Done():
				}
				return struct{}{}, nil
			})
			return err
		})
	})
	b.notify()
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

// manage is the connection loop.
func (b *Bridge) manage(t *loop.Task) error {
	round := 0
	var c *conn
	for {
		if c == nil {
			var err error
			c, err = b.connectRange(t, 0, len(b.brokers))
			if err != nil {
				if isInterrupt(err) {
					return err
				}
				d := backoff(round, b.s.backoffMin, b.s.backoffMax, mrand.Float64())
				round++
				b.log.Warn("bridge: no broker reachable; retrying", "in", d.Round(time.Millisecond), "round", round, "err", err)
				if err := t.Sleep(d); err != nil {
					return err
				}
				continue
			}
			round = 0
		}
		next, err := b.serve(t, c)
		if err != nil {
			return err
		}
		c = next
	}
}

// backoff returns the delay before round n+1 of connection attempts: min
// doubled n times, at most max, drawn from the upper half of that (r is
// uniform in [0,1)).
func backoff(n int, min, max time.Duration, r float64) time.Duration {
	d := float64(min) * math.Pow(2, float64(n))
	if d > float64(max) || math.IsInf(d, 0) {
		d = float64(max)
	}
	return time.Duration(d/2 + r*d/2)
}

func isInterrupt(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}

// connectRange tries brokers from..to-1 in order and returns the first
// connection made.
func (b *Bridge) connectRange(t *loop.Task, from, to int) (*conn, error) {
	var errs []error
	for i := from; i < to; i++ {
		c := b.newConn(i)
		_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.connect(ctx)
		})
		if err == nil {
			return c, nil
		}
		if isInterrupt(err) {
			c.abandon()
			return nil, err
		}
		b.ctr.connectFailures.Add(1)
		b.notify()
		b.log.Info("bridge: connection attempt failed", "broker", b.brokers[i].url, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", b.brokers[i].url, err))
	}
	return nil, errors.Join(errs...)
}

// serve runs one connection: it sets the session up, then waits until the
// connection is lost (returning nil) or, on a broker other than the first,
// until a preferred broker accepts a connection (returning it, after
// leaving this one gracefully).
func (b *Bridge) serve(t *loop.Task, c *conn) (*conn, error) {
	b.conn = c
	b.st.connects++
	if b.st.connects > 1 {
		b.st.reconnects++
	}
	if c.broker > 0 {
		b.st.failovers++
	}
	b.log.Info("bridge: connected", "broker", b.brokers[c.broker].url, "client_id", b.s.clientID)
	b.notify()
	if err := b.setup(t, c); err != nil {
		if isInterrupt(err) {
			return nil, err
		}
		b.log.Warn("bridge: session setup failed; reconnecting", "broker", b.brokers[c.broker].url, "err", err)
		c.fail(err)
	}
	for !c.down {
		if c.broker == 0 {
			if err := b.connWQ.Wait(t); err != nil {
				return nil, err
			}
			continue
		}
		err := loop.WaitFor(t, b.s.returnInterval, func(t *loop.Task) error {
			for !c.down {
				if err := b.connWQ.Wait(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			break
		}
		if !errors.Is(err, loop.ErrTimeout) || t.Cancelled() {
			return nil, err
		}
		better, err := b.connectRange(t, 0, c.broker)
		if err != nil {
			if isInterrupt(err) {
				return nil, err
			}
			continue
		}
		b.log.Info("bridge: preferred broker is back; switching", "from", b.brokers[c.broker].url, "to", b.brokers[better.broker].url)
		if err := b.retire(t, c, true); err != nil {
			better.abandon()
			return nil, err
		}
		return better, nil
	}
	b.log.Warn("bridge: connection lost", "broker", b.brokers[c.broker].url, "err", c.lostErr())
	if err := b.retire(t, c, false); err != nil {
		return nil, err
	}
	return nil, nil
}

// retire ends connection c: gracefully (publishing "offline" first, then
// DISCONNECT) or after a loss, and waits for its sender to stop.
func (b *Bridge) retire(t *loop.Task, c *conn, graceful bool) error {
	c.retiring = true
	if b.conn == c {
		b.conn = nil
	}
	if graceful && !c.down {
		if err := b.publishAwait(t, c, directPub{b.topics.Availability(), []byte(payloadOffline), 1, true}); err != nil && isInterrupt(err) {
			c.close()
			return err
		}
	}
	c.down = true
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		c.disconnect(250)
		c.waitSender(ctx)
		return struct{}{}, nil
	})
	b.notify()
	return err
}

// shutdown ends the bridge's tasks and the connection, on Run's way out.
func (b *Bridge) shutdown(t *loop.Task) error {
	gerr := b.group.Stop(t)
	if gerr != nil && !isInterrupt(gerr) {
		b.log.Warn("bridge: tasks ended with errors", "err", gerr)
	}
	for _, cl := range b.calls {
		cl.finish(nil, ErrClosed)
	}
	c := b.conn
	if c == nil {
		return nil
	}
	return b.retire(t, c, true)
}

// setup subscribes everything, publishes "online", starts the outbox sender
// and Home Assistant's announcement: what every connect does.
func (b *Bridge) setup(t *loop.Task, c *conn) error {
	filters := map[string]byte{}
	for _, s := range b.subs {
		if q, ok := filters[s.filter]; !ok || s.qos > q {
			filters[s.filter] = s.qos
		}
	}
	if err := b.subscribe(t, c, filters); err != nil {
		return err
	}
	if err := b.publishAwait(t, c, directPub{b.topics.Availability(), []byte(payloadOnline), 1, true}); err != nil {
		return err
	}
	c.senderUp.Store(true)
	go b.sender(c)
	c.ready = true
	b.notify()
	if b.ha != nil {
		b.haOnConnect(c)
	}
	return nil
}

// subscribe sends one SUBSCRIBE for filters on c and awaits the SUBACK.
// A filter the broker refuses is logged and counted; the session goes on.
func (b *Bridge) subscribe(t *loop.Task, c *conn, filters map[string]byte) error {
	if len(filters) == 0 {
		return nil
	}
	res, err := loop.Offload(t, func(ctx context.Context) (map[string]byte, error) {
		tok := c.client.SubscribeMultiple(filters, nil)
		if err := c.await(ctx, tok); err != nil {
			return nil, err
		}
		return tok.(interface{ Result() map[string]byte }).Result(), nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for f, code := range res {
		if code == 0x80 {
			b.st.subscribeFailures++
			b.log.Error("bridge: broker refused the subscription", "filter", f)
		}
	}
	return nil
}

// publishAwait publishes straight through c (not through the outbox) and
// awaits the broker's acknowledgements: for "online", "offline", the
// discovery configs and the states sent again after them, which are all
// published again on every connect. The publications go through the I/O
// worker like every direct one, so they keep the order the loop made them
// in: a final "offline" cannot overtake an "online" queued just before.
func (b *Bridge) publishAwait(t *loop.Task, c *conn, msgs ...directPub) error {
	toks := make(chan []mqtt.Token, 1)
	if !b.io.put(ioOp{fn: func() {
		ts := make([]mqtt.Token, len(msgs))
		for i, m := range msgs {
			ts[i] = c.client.Publish(m.topic, m.qos, m.retain, m.payload)
		}
		toks <- ts
	}}) {
		return ErrClosed
	}
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		var ts []mqtt.Token
		select {
		case ts = <-toks:
		case <-ctx.Done():
			return struct{}{}, ctx.Err()
		}
		for _, tok := range ts {
			if err := c.await(ctx, tok); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// directPub is one publication that bypasses the outbox.
type directPub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// notify wakes whoever watches the bridge's state (WaitConnected, tests).
func (b *Bridge) notify() { b.changed.WakeAll() }

// Connected reports whether a broker is connected and the session set up
// far enough to publish.
func (b *Bridge) Connected() bool { return b.conn != nil && !b.conn.down && b.conn.ready }

// WaitConnected waits until a broker is connected.
func (b *Bridge) WaitConnected(t *loop.Task) error {
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

// Availability payloads.
const (
	payloadOnline  = "online"
	payloadOffline = "offline"
)
