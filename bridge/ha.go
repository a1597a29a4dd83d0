package bridge

import (
	"context"
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
	cfg       *hass.Config
	stateOf   map[string]bool // state topics whose last payload is kept
	noRetain  map[string]string
	cache     map[string]cachedPub
	order     []string // cache keys in first-publication order
	readback  *readback
	birthTask *job
	syncTask  *job
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
	cfg, err := n.Build()
	if err != nil {
		return nil, err
	}
	h := &haState{cfg: cfg, stateOf: map[string]bool{}, noRetain: map[string]string{}, cache: map[string]cachedPub{}}
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
// without WithHomeAssistant. Its Bindings give each entity's topics.
func (b *Bridge) HomeAssistant() *hass.Config {
	if b.ha == nil {
		return nil
	}
	return b.ha.cfg
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
	msgs := []hass.Message{b.ha.cfg.Announce()}
	prev, err := b.haReadBack(t, c)
	switch {
	case err != nil && isInterrupt(err) && t.Cancelled():
		return err
	case err != nil:
		b.log.Warn("bridge: retained discovery config unusable; announcing over it", "topic", b.ha.cfg.Topic(), "err", err)
	default:
		if m, err := b.ha.cfg.Update(prev); err == nil {
			msgs = m
		} else {
			b.log.Warn("bridge: discovery update", "err", err)
		}
	}
	return b.haPublish(t, c, msgs)
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
	rb := &readback{topic: b.ha.cfg.Topic()}
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
	if !rb.got {
		return hass.Components{}, nil
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
		if c == nil || c.down {
			return nil // the next connect announces
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
