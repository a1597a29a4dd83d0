// Package bridgetest runs what tests of MQTT code need in the test process:
// a real broker (mochi-mqtt) on a loopback port, with hooks to refuse a
// client, refuse a subscription, withhold messages silently, drop a
// client's link and watch acknowledgements; and a plain paho client for the
// other side.
//
// It is for tests (of the bridge, the request/reply package, the agent):
// nothing here is meant for production. It imports neither the bridge nor
// the loop, so any package's tests can use it.
//
// The broker works around a quirk of mochi v2.7.9: it keeps a client's
// in-flight packets of both directions in one map keyed by packet id, so a
// client packet (a QoS 1 PUBLISH, a SUBSCRIBE, an UNSUBSCRIBE) whose id
// happens to equal that of an unacknowledged delivery to the client either
// erases the delivery from the session or is refused as "packet identifier
// in use" (a SUBSCRIBE then comes back 0x80, an UNSUBSCRIBE silently does
// nothing). MQTT gives each direction its own ids, and Mosquitto keeps them
// apart; here the hook renumbers such a client packet on its way in and
// gives the answer its id back on its way out.
package bridgetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Timeout bounds the waits of the helpers: generous, since it only matters
// when something is broken (they wait on real signals, never on time).
const Timeout = 20 * time.Second

// BrokerOptions configure StartBroker.
type BrokerOptions struct {
	Addr string      // "" for 127.0.0.1:0
	TLS  *tls.Config // nil for plain TCP
	User string      // when set, only User with Pass may connect
	Pass string
	Deny string // a client id refused until Broker.Allow
	// Record keeps the publications on topics with this prefix, as the
	// broker received them (TakePublished).
	Record string
	// Queue, when set, is how many QoS ≥ 1 messages the broker keeps
	// unacknowledged per client, and how many packets it lets wait to be
	// written to one, beyond which it drops (mochi's defaults: 8192 each).
	// mochi has no in-flight window for MQTT 3.1.1 clients: it sends every
	// message at once.
	Queue int
}

// Broker is an in-process MQTT broker on a loopback port.
type Broker struct {
	Srv  *mochi.Server
	addr string
	hook *hook
	once sync.Once
}

// hook lets everyone in (or only one user), applies the test's refusals
// and signals every PUBACK and SUBSCRIBE, for tests that must know an
// acknowledgement or a subscription reached the broker. (mochi's own auth
// hooks would pull a YAML module in just for this.)
type hook struct {
	mochi.HookBase
	user, pass string
	record     string

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every PUBACK, SUBSCRIBE and UNSUBSCRIBE
	deny         string
	denySub      map[string]bool // filters whose SUBSCRIBE is answered 0x80
	withhold     map[string]bool // topics whose messages are never delivered to anyone
	swallow      map[string]bool // topics whose publications the broker ignores, unacknowledged
	published    []packets.Packet
	refusedSubs  int
	withheldMsgs int
	renumbered   map[string]map[uint16]uint16 // client → broker-side id → the client's
	subscribing  map[string][]string          // client → the filters of the SUBSCRIBE being handled
	wills        int
}

// StartBroker starts a broker; the test's cleanup stops it.
func StartBroker(t testing.TB, o BrokerOptions) *Broker {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	caps := mochi.NewDefaultServerCapabilities()
	if o.Queue > 0 {
		caps.MaximumInflight = uint16(min(o.Queue, 65535))
		caps.MaximumClientWritesPending = int32(o.Queue)
	}
	srv := mochi.New(&mochi.Options{
		InlineClient: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Capabilities: caps,
	})
	h := &hook{user: o.User, pass: o.Pass, deny: o.Deny, record: o.Record, changed: make(chan struct{}),
		denySub: map[string]bool{}, withhold: map[string]bool{}, swallow: map[string]bool{}, renumbered: map[string]map[uint16]uint16{},
		subscribing: map[string][]string{}}
	if err := srv.AddHook(h, nil); err != nil {
		t.Fatal(err)
	}
	l := &safeTCP{TCP: listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.Addr, TLSConfig: o.TLS}), srv: srv}
	var err error
	// A port just freed by a stopped broker may take a moment to be
	// reusable on some systems: retry the listen briefly.
	for i := 0; ; i++ {
		err = srv.AddListener(l)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("broker listen on %s: %v", o.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &Broker{Srv: srv, addr: l.Address(), hook: h}
	t.Cleanup(b.Stop)
	return b
}

// Addr returns host:port.
func (b *Broker) Addr() string { return b.addr }

// URL returns tcp://host:port (the scheme is the caller's to change for
// TLS).
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Stop stops the broker; later calls do nothing.
func (b *Broker) Stop() { b.once.Do(func() { _ = b.Srv.Close() }) }

// Deny refuses connections from client id (one at a time) until Allow.
func (b *Broker) Deny(id string) {
	b.hook.mu.Lock()
	b.hook.deny = id
	b.hook.mu.Unlock()
}

// Allow lets in the client refused by BrokerOptions.Deny or Deny.
func (b *Broker) Allow() {
	b.hook.mu.Lock()
	b.hook.deny = ""
	b.hook.mu.Unlock()
}

// DenySubscribe makes the broker answer a SUBSCRIBE to filter with 0x80,
// as Mosquitto's dynamic-security plugin does for a filter its ACL denies;
// allow lifts it.
func (b *Broker) DenySubscribe(filter string, deny bool) {
	b.hook.mu.Lock()
	b.hook.denySub[filter] = deny
	b.hook.mu.Unlock()
}

// Withhold makes the broker grant subscriptions but never deliver
// messages published on topic, as Mosquitto's acl_file does for a topic a
// client may not read (MQTT 3.1.1 has no way to tell the client).
func (b *Broker) Withhold(topic string, withhold bool) {
	b.hook.mu.Lock()
	b.hook.withhold[topic] = withhold
	b.hook.mu.Unlock()
}

// Swallow makes the broker ignore publications on topic without
// acknowledging them, as a broker that has stopped answering does.
func (b *Broker) Swallow(topic string, swallow bool) {
	b.hook.mu.Lock()
	b.hook.swallow[topic] = swallow
	b.hook.mu.Unlock()
}

// Refusals returns how many subscriptions the broker refused and how many
// deliveries it withheld.
func (b *Broker) Refusals() (subscriptions, messages int) {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	return b.hook.refusedSubs, b.hook.withheldMsgs
}

// WillsSent returns how many wills the broker has published: a client
// that leaves with a DISCONNECT causes none.
func (b *Broker) WillsSent() int {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	return b.hook.wills
}

// WaitWills waits until the broker has published n wills.
func (b *Broker) WaitWills(ctx context.Context, n int) error {
	return b.waitFor(ctx, func() bool { return b.WillsSent() >= n },
		func() string { return fmt.Sprintf("%d of %d wills published", b.WillsSent(), n) })
}

// Kick drops a client's connection as a network failure would: no
// DISCONNECT, so the broker publishes its will.
func (b *Broker) Kick(t testing.TB, clientID string) {
	t.Helper()
	cl, ok := b.Srv.Clients.Get(clientID)
	if !ok {
		t.Fatalf("kick: no client %q", clientID)
	}
	cl.Stop(errors.New("kicked by test"))
}

// Publish publishes from inside the broker (mochi's inline client), the
// quickest way to flood a subscriber: no client, no socket, no wait. The
// broker delivers it to each subscriber at the lower of qos and the
// subscription's QoS.
func (b *Broker) Publish(topic string, payload []byte, qos byte) error {
	return b.Srv.Publish(topic, payload, false, qos)
}

// Retained returns the retained payload of topic on the broker.
func (b *Broker) Retained(topic string) ([]byte, bool) {
	for _, m := range b.Srv.Topics.Messages(topic) {
		if m.TopicName == topic {
			return m.Payload, true
		}
	}
	return nil, false
}

// Subscribed reports whether client id holds a subscription to filter.
func (b *Broker) Subscribed(id, filter string) bool {
	cl, ok := b.Srv.Clients.Get(id)
	if !ok {
		return false
	}
	_, ok = cl.State.Subscriptions.Get(filter)
	return ok
}

// WaitSubscribed waits until client id holds a subscription to filter.
func (b *Broker) WaitSubscribed(ctx context.Context, id, filter string) error {
	return b.waitFor(ctx, func() bool { return b.Subscribed(id, filter) },
		func() string { return fmt.Sprintf("%s never subscribed to %s", id, filter) })
}

// WaitUnsubscribed waits until client id holds no subscription to filter.
func (b *Broker) WaitUnsubscribed(ctx context.Context, id, filter string) error {
	return b.waitFor(ctx, func() bool { return !b.Subscribed(id, filter) },
		func() string { return fmt.Sprintf("%s still subscribed to %s", id, filter) })
}

// WaitAcked waits until the broker holds no unacknowledged message with
// payload on topic for client id: its PUBACK has arrived.
func (b *Broker) WaitAcked(ctx context.Context, id, topic, payload string) error {
	return b.waitFor(ctx, func() bool {
		cl, ok := b.Srv.Clients.Get(id)
		if !ok {
			return false
		}
		for _, p := range cl.State.Inflight.GetAll(false) {
			if p.TopicName == topic && string(p.Payload) == payload {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%s %q to %s still unacknowledged", topic, payload, id) })
}

// waitFor re-checks cond on every PUBACK, SUBSCRIBE, UNSUBSCRIBE and will
// the broker handles.
func (b *Broker) waitFor(ctx context.Context, cond func() bool, what func() string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	for {
		b.hook.mu.Lock()
		ch := b.hook.changed
		b.hook.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what(), ctx.Err())
		}
	}
}

// TakePublished returns the publications on topics under
// BrokerOptions.Record the broker has handled so far, and forgets them.
func (b *Broker) TakePublished() []packets.Packet {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	p := b.hook.published
	b.hook.published = nil
	return p
}

func (h *hook) ID() string { return "bridgetest" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnQosComplete, mochi.OnPublished,
		mochi.OnSubscribe, mochi.OnSubscribed, mochi.OnUnsubscribed,
		mochi.OnPacketRead, mochi.OnPacketEncode, mochi.OnWillSent, mochi.OnPublish:
		return true
	}
	return false
}

// OnPacketRead renumbers a client packet whose id collides with a packet
// the broker has in flight to the client (see the package documentation).
func (h *hook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos == 0 {
			return pk, nil
		}
	case packets.Subscribe, packets.Unsubscribe, packets.Pubrel:
	default:
		return pk, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := h.renumbered[cl.ID]
	if pk.FixedHeader.Type == packets.Pubrel {
		for ours, theirs := range ids {
			if theirs == pk.PacketID {
				pk.PacketID = ours // the QoS 2 flow goes on under the new id
				break
			}
		}
		return pk, nil
	}
	if _, taken := cl.State.Inflight.Get(pk.PacketID); !taken {
		return pk, nil
	}
	if ids == nil {
		ids = map[uint16]uint16{}
		h.renumbered[cl.ID] = ids
	}
	for id := uint16(65535); id > 0; id-- {
		if _, taken := cl.State.Inflight.Get(id); taken {
			continue
		}
		if _, used := ids[id]; used {
			continue
		}
		ids[id] = pk.PacketID
		pk.PacketID = id
		break
	}
	return pk, nil
}

// OnPacketEncode gives the answer to a renumbered packet the client's id.
func (h *hook) OnPacketEncode(cl *mochi.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Pubrec, packets.Pubcomp, packets.Suback, packets.Unsuback:
	default:
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := h.renumbered[cl.ID]
	if theirs, ok := ids[pk.PacketID]; ok {
		if pk.FixedHeader.Type != packets.Pubrec {
			delete(ids, pk.PacketID) // the flow ends with this answer
		}
		pk.PacketID = theirs
	}
	return pk
}

func (h *hook) signal() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *hook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deny != "" && cl.ID == h.deny {
		return false
	}
	delete(h.renumbered, cl.ID) // a new connection starts with no flows
	return h.user == "" || string(pk.Connect.Username) == h.user && string(pk.Connect.Password) == h.pass
}

// OnSubscribe counts the filters it will refuse and notes the SUBSCRIBE
// being handled: mochi checks a subscription's filter, and later each
// delivery's topic, through OnACLCheck, which tells them apart by it.
func (h *hook) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	h.mu.Lock()
	defer h.mu.Unlock()
	var filters []string
	for _, f := range pk.Filters {
		if h.denySub[f.Filter] {
			h.refusedSubs++
		}
		filters = append(filters, f.Filter)
	}
	h.subscribing[cl.ID] = filters
	return pk
}

// OnACLCheck refuses the denied subscriptions and withholds deliveries on
// withheld topics; writes are always allowed.
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if write {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.Contains(h.subscribing[cl.ID], topic) {
		return !h.denySub[topic]
	}
	if h.withhold[topic] {
		h.withheldMsgs++
		return false
	}
	return !h.denySub[topic]
}

func (h *hook) OnSubscribed(cl *mochi.Client, _ packets.Packet, _ []byte) {
	h.mu.Lock()
	delete(h.subscribing, cl.ID)
	h.mu.Unlock()
	h.signal()
}

func (h *hook) OnWillSent(*mochi.Client, packets.Packet) {
	h.mu.Lock()
	h.wills++
	h.mu.Unlock()
	h.signal()
}

func (h *hook) OnUnsubscribed(*mochi.Client, packets.Packet) { h.signal() }

// OnPublish drops, unacknowledged, what Swallow names.
func (h *hook) OnPublish(_ *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.swallow[pk.TopicName] {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

func (h *hook) OnPublished(_ *mochi.Client, pk packets.Packet) {
	if h.record == "" || !strings.HasPrefix(pk.TopicName, h.record) {
		return
	}
	h.mu.Lock()
	h.published = append(h.published, pk.Copy(false))
	h.mu.Unlock()
}

func (h *hook) OnQosComplete(_ *mochi.Client, pk packets.Packet) {
	if pk.FixedHeader.Type == packets.Puback {
		h.signal()
	}
}

// safeTCP is mochi's TCP listener with a Close that cannot deadlock:
// mochi's own takes the clients' read lock twice (Clients.GetByListener
// calls Len), so a client leaving at that moment, which waits for the
// write lock in between, blocks both for ever. This Close lists the
// clients under one read lock.
type safeTCP struct {
	*listeners.TCP
	srv *mochi.Server
}

func (l *safeTCP) Close(listeners.CloseFn) {
	l.TCP.Close(func(string) {}) // stops accepting
	for _, cl := range l.srv.Clients.GetAll() {
		if cl.Net.Listener == l.ID() && !cl.Closed() {
			_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// Client is a plain paho client for the other side of a test.
type Client struct {
	C mqtt.Client
}

// NewClient connects a paho client (MQTT 3.1.1, no auto-reconnect) with id
// to url; setup may adjust its options. The test's cleanup disconnects it.
func NewClient(t testing.TB, url, id string, setup ...func(*mqtt.ClientOptions)) *Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).SetProtocolVersion(4)
	o.SetConnectTimeout(5 * time.Second)
	for _, f := range setup {
		f(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(Timeout) || tok.Error() != nil {
		t.Fatalf("test client %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return &Client{C: c}
}

// Sub subscribes and returns a channel of what arrives (buffered; a test
// that lets it fill up blocks paho, so read what you subscribe to).
func (c *Client) Sub(t testing.TB, filter string, qos byte) <-chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 1024)
	tok := c.C.Subscribe(filter, qos, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(Timeout) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

// Pub publishes and waits for the broker's acknowledgement (QoS ≥ 1).
func (c *Client) Pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.C.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(Timeout) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}
