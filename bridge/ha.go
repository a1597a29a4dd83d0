package bridge

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/bridge/hass"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// This file is the Home Assistant wiring: package hass builds and checks
// the payloads; the bridge publishes them on every connect and on Home
// Assistant's birth, reads back what is retained to remove what left, and
// publishes the states again.

// readbackTimeout bounds the wait for the retained discovery config at
// connect; the marker message normally ends it much sooner.
const readbackTimeout = 5 * time.Second

// haState is the bridge's side of Home Assistant discovery.
type haState struct {
	cfg      *hass.Config    // nil for a node without entities: its device is removed
	topic    string          // the discovery topic
	stateOf  map[string]bool // state topics whose last payload is kept
	noRetain map[string]string
	cache    map[string]cachedPub
	order    []string // cache keys in first-publication order
	readback *readback
	// removeSeen: the last read-back found a retained config.
	removeSeen bool
	birthTask  *job
	syncTask   *job
}

type cachedPub struct {
	payload []byte
	qos     byte
	retain  bool
}

// readback collects the retained discovery config found at connect.
type readback struct {
	topic   string
	got     bool
	payload []byte
}

// haTopics gives package hass the bridge's layout, whatever node id the
// hass.Node carries (it may be a sanitized form of the MQTT node).
type haTopics struct{ tp topic.Layout }

func (h haTopics) Availability(string) string    { return h.tp.Availability() }
func (h haTopics) State(_, entity string) string { return h.tp.State(entity) }
func (h haTopics) Command(_, entity string) string {
	return h.tp.Command(entity)
}
func (h haTopics) Event(_, entity string) string { return h.tp.Event(entity) }

// haID turns a node id into one Home Assistant accepts ([a-zA-Z0-9_-]+).
func haID(node string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, node)
}

// buildHA fills n from the bridge and validates it.
func (b *Bridge) buildHA(n hass.Node) (*haState, error) {
	if n.ID == "" {
		n.ID = haID(b.topics.Node())
	}
	if n.Topics == nil {
		n.Topics = haTopics{b.topics}
	}
	switch n.AvailabilityTopic {
	case "":
		n.AvailabilityTopic = b.topics.Availability()
	case b.topics.Availability():
	default:
		return nil, fmt.Errorf("AvailabilityTopic %q: must be the bridge's %q, which carries its will", n.AvailabilityTopic, b.topics.Availability())
	}
	h := &haState{stateOf: map[string]bool{}, noRetain: map[string]string{}, cache: map[string]cachedPub{}}
	if len(n.Entities) == 0 {
		// Nothing to announce: what a previous run announced is removed
		// (haSync), and nothing is announced until entities come.
		t, err := hass.DeviceTopic(n.Prefix, n.ID)
		if err != nil {
			return nil, err
		}
		h.topic = t
		return h, nil
	}
	cfg, err := n.Build()
	if err != nil {
		return nil, err
	}
	h.cfg, h.topic = cfg, cfg.Topic()
	for _, bd := range cfg.Bindings() {
		if topic.Reserved(bd.Entity) {
			return nil, fmt.Errorf("entity %q: the id is a level of the bridge's own topics (%s)", bd.Entity, topic.ReservedLevels)
		}
		if bd.StateTopic == "" {
			continue
		}
		if !bd.RetainState {
			why := "Home Assistant discards retained event messages"
			if bd.Platform != hass.PlatformEvent {
				why = "its state expires, so a retained value would look fresh"
			}
			h.noRetain[bd.StateTopic] = why
		}
		if bd.Platform != hass.PlatformEvent {
			h.stateOf[bd.StateTopic] = true
		}
	}
	return h, nil
}

// HomeAssistant returns the discovery config the bridge announces, nil
// without WithHomeAssistant or for a node without entities. Its Bindings
// give each entity's topics.
func (b *Bridge) HomeAssistant() *hass.Config {
	if b.ha == nil {
		return nil
	}
	return b.ha.cfg
}

// SetHomeAssistant replaces the node the bridge announces while it runs,
// without a new connection (a reload that adds or removes devices): with a
// connection up, the retained config is read back and what takes Home
// Assistant from it to n is published at once — vanished entities removed
// first — followed by the cached states of the entities that stay;
// otherwise the next connect does it. A node without entities removes the
// device: an empty retained config. The discovery topic (prefix and node
// id) cannot change this way, nor can a bridge built without
// WithHomeAssistant start announcing. Call it on the loop.
func (b *Bridge) SetHomeAssistant(n hass.Node) error {
	if b.ha == nil {
		return errors.New("bridge: SetHomeAssistant: the bridge was built without WithHomeAssistant")
	}
	ha, err := b.buildHA(n)
	if err != nil {
		return fmt.Errorf("bridge: SetHomeAssistant: %w", err)
	}
	if ha.topic != b.ha.topic {
		return fmt.Errorf("bridge: SetHomeAssistant: the discovery topic would move from %s to %s; that needs a new bridge", b.ha.topic, ha.topic)
	}
	for _, name := range b.ha.order {
		if ha.stateOf[name] {
			ha.order = append(ha.order, name)
			ha.cache[name] = b.ha.cache[name]
		}
	}
	ha.birthTask = b.ha.birthTask // it reads b.ha when it publishes
	if j := b.ha.syncTask; j != nil {
		j.stop()
	}
	b.ha = ha
	if c := b.conn; c != nil && c.ready && !c.down {
		b.haOnConnect(c)
	}
	return nil
}

// checkRetain refuses a retained publication where Home Assistant forbids
// one (event topics, sensors that expire).
func (b *Bridge) checkRetain(name string, retain bool) error {
	if !retain || b.ha == nil {
		return nil
	}
	if why, bad := b.ha.noRetain[name]; bad {
		return fmt.Errorf("%w: %s must not be retained: %s", ErrInvalid, name, why)
	}
	return nil
}

// cacheState keeps the last state published on an entity's state topic, to
// publish it again after Home Assistant's birth message.
func (b *Bridge) cacheState(name string, payload []byte, p Pub) {
	if b.ha == nil || !b.ha.stateOf[name] {
		return
	}
	if _, ok := b.ha.cache[name]; !ok {
		b.ha.order = append(b.ha.order, name)
	}
	b.ha.cache[name] = cachedPub{payload, p.QoS, p.Retain}
}

// republishStates sends every cached state again, straight through c, and
// awaits the broker's acknowledgements. (A state never delivered is in the
// outbox too, which keeps the order, so the newest one still arrives last.)
func (b *Bridge) republishStates(t *loop.Task, c *conn) error {
	pubs := make([]directPub, 0, len(b.ha.order))
	for _, name := range b.ha.order {
		p := b.ha.cache[name]
		pubs = append(pubs, directPub{name, p.payload, p.qos, p.retain})
	}
	if len(pubs) == 0 {
		return nil
	}
	return b.publishAwait(t, c, pubs...)
}

// haOnConnect starts the discovery sync of a new connection.
func (b *Bridge) haOnConnect(c *conn) {
	if j := b.ha.syncTask; j != nil {
		j.stop()
	}
	b.ha.syncTask = b.start("bridge/hass-sync", func(t *loop.Task) error {
		return b.haSync(t, c)
	})
}

// haSync reads back the retained discovery config, publishes what takes
// Home Assistant from it to the current one (removing vanished entities),
// then the cached states.
func (b *Bridge) haSync(t *loop.Task, c *conn) error {
	cfg := b.ha.cfg
	if cfg == nil {
		return b.haRemove(t, c)
	}
	msgs := []hass.Message{cfg.Announce()}
	prev, err := b.haReadBack(t, c)
	switch {
	case err != nil && isInterrupt(err) && t.Cancelled():
		return err
	case err != nil:
		b.log.Warn("bridge: retained discovery config unusable; announcing over it", "topic", cfg.Topic(), "err", err)
	default:
		if m, err := cfg.Update(prev); err == nil {
			msgs = m
		} else {
			b.log.Warn("bridge: discovery update", "err", err)
		}
	}
	return b.haPublish(t, c, msgs)
}

// haRemove removes the node's device from Home Assistant when a config of
// it is retained: an empty retained payload on the discovery topic, which
// deletes the device and its entities and the retained message.
func (b *Bridge) haRemove(t *loop.Task, c *conn) error {
	_, err := b.haReadBack(t, c)
	if err != nil && isInterrupt(err) && t.Cancelled() {
		return err
	}
	if err == nil && !b.ha.removeSeen {
		return nil // nothing retained: nothing to remove
	}
	if err := b.publishAwait(t, c, directPub{b.ha.topic, []byte{}, 1, true}); err != nil {
		if isInterrupt(err) {
			return err
		}
		b.log.Warn("bridge: discovery config not removed", "topic", b.ha.topic, "err", err)
		return nil
	}
	b.log.Info("bridge: no entities; Home Assistant device removed", "topic", b.ha.topic)
	b.st.haAnnouncements++
	b.notify()
	return nil
}

// haPublish publishes discovery messages in order, each acknowledged before
// the next (a removal takes two), then the cached states: Home Assistant
// drops a state that arrives before its entity's config.
func (b *Bridge) haPublish(t *loop.Task, c *conn, msgs []hass.Message) error {
	for _, m := range msgs {
		if err := b.publishAwait(t, c, directPub{m.Topic, m.Payload, 1, m.Retain}); err != nil {
			if isInterrupt(err) {
				return err
			}
			b.log.Warn("bridge: discovery config not published", "topic", m.Topic, "err", err)
			return nil
		}
	}
	if err := b.republishStates(t, c); err != nil {
		if isInterrupt(err) {
			return err
		}
		b.log.Warn("bridge: states not published again", "err", err)
	}
	b.st.haAnnouncements += uint64(len(msgs))
	b.notify()
	return nil
}

// haReadBack subscribes to the node's discovery topic long enough to get
// the retained config, if any. The broker sends retained messages right
// after the SUBACK, before anything this client publishes later, so an
// echo marker ends the wait without a guessed delay.
func (b *Bridge) haReadBack(t *loop.Task, c *conn) (hass.Components, error) {
	rb := &readback{topic: b.ha.topic}
	b.ha.readback = rb
	defer func() {
		if b.ha.readback == rb {
			b.ha.readback = nil
		}
	}()
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.await(ctx, c.client.Subscribe(rb.topic, 1, nil))
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.echo(t, c, readbackTimeout); err != nil {
		return nil, err
	}
	if _, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.await(ctx, c.client.Unsubscribe(rb.topic))
	}); err != nil && t.Cancelled() {
		return nil, err
	}
	b.ha.removeSeen = rb.got && len(rb.payload) > 0
	if !rb.got {
		return hass.Components{}, nil
	}
	if b.ha.cfg == nil {
		return nil, nil // only whether something is retained matters
	}
	return hass.ParseRetained(rb.payload)
}

// routeBirth re-announces when Home Assistant comes online.
func (b *Bridge) routeBirth(d *delivery) {
	if string(d.Payload) != hass.BirthOnline {
		return
	}
	if j := b.ha.birthTask; j != nil {
		j.stop()
	}
	b.ha.birthTask = b.start("bridge/hass-birth", func(t *loop.Task) error {
		if b.s.haDelay > 0 {
			if err := t.Sleep(time.Duration(mrand.Int64N(int64(b.s.haDelay)))); err != nil {
				return err
			}
		}
		c := b.conn
		if c == nil || c.down || b.ha.cfg == nil {
			return nil // the next connect announces; nothing to announce
		}
		return b.haPublish(t, c, []hass.Message{b.ha.cfg.Announce()})
	})
}

// routeAvailability puts "online" back if an "offline" arrives while the
// node is connected: a will that the broker published late, for an earlier
// connection (the broker noticed the old link dead only after the new one
// came up), would otherwise leave the node marked offline.
func (b *Bridge) routeAvailability(d *delivery) {
	c := b.conn
	if d.Retained || string(d.Payload) != payloadOffline || c == nil || c != d.c || c.down || c.retiring || b.shutting {
		return
	}
	b.log.Info("bridge: availability read offline while connected; publishing online again")
	b.sendDirect(b.topics.Availability(), []byte(payloadOnline), 1, true)
}
