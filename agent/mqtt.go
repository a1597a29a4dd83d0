package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// bridgeShutdown bounds the bridge's own stop ("offline" and the
// disconnect) within the agent's shutdown timeout.
func bridgeShutdown(cfg *config.Config) time.Duration {
	return min(bridge.DefaultShutdownTimeout, cfg.ShutdownTimeout*3/4)
}

// bridgeOptions turns the configuration into the bridge's options.
func (a *Agent) bridgeOptions(cfg *config.Config) []bridge.Option {
	m := cfg.MQTT
	opts := []bridge.Option{
		bridge.WithLogger(a.log),
		bridge.WithBrokers(m.Brokers...),
		bridge.WithBase(m.BaseTopic),
		bridge.WithNode(m.NodeID),
		bridge.WithKeepAlive(m.KeepAlive),
		bridge.WithConnectTimeout(m.ConnectTimeout),
		bridge.WithBackoff(m.Backoff.Min, m.Backoff.Max),
		bridge.WithReturnInterval(m.ReturnInterval),
		bridge.WithCleanSession(m.CleanSession),
		bridge.WithStateDir(filepath.Join(cfg.StateDir, "outbox")),
		bridge.WithShutdownTimeout(bridgeShutdown(cfg)),
	}
	if m.ClientID != "" {
		opts = append(opts, bridge.WithClientID(m.ClientID))
	}
	if m.Username != "" {
		opts = append(opts, bridge.WithUsername(m.Username))
	}
	if m.PasswordFile != "" {
		opts = append(opts, bridge.WithPasswordFile(m.PasswordFile))
	}
	if m.PasswordEnv != "" {
		opts = append(opts, bridge.WithPasswordEnv(m.PasswordEnv))
	}
	if m.TLS != nil {
		opts = append(opts, bridge.WithTLS(bridge.TLS{CAFile: m.TLS.CAFile, CertFile: m.TLS.CertFile, KeyFile: m.TLS.KeyFile,
			ServerName: m.TLS.ServerName, InsecureSkipVerify: m.TLS.InsecureSkipVerify}))
	}
	if cfg.HomeAssistant.Enabled {
		opts = append(opts, bridge.WithHomeAssistant(homeAssistantNode(cfg, a.version)),
			bridge.WithHABirthTopic(cfg.HomeAssistant.BirthTopic))
	}
	return opts
}

// newBridge builds a bridge for cfg with the agent's methods and the
// command subscription. It reads the disk (the outbox, TLS and password
// files): call it before the loop runs or through loop.Offload.
func (a *Agent) newBridge(cfg *config.Config) (*bridge.Bridge, error) {
	b, err := bridge.New(a.l, a.bridgeOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("MQTT: %w", err)
	}
	return b, nil
}

// setBridge makes b the agent's bridge: it registers the methods and the
// command subscription and sends what waited for it.
func (a *Agent) setBridge(b *bridge.Bridge) {
	a.b, a.topics = b, b.Topics()
	s, err := rpc.NewServer(b)
	if err != nil {
		a.log.Error("cannot serve requests", "err", err)
	}
	a.rpc = s
	for name, h := range a.methods() {
		if err := s.Handle(name, a.guard(h)); err != nil {
			a.log.Error("cannot serve a method", "method", name, "err", err)
		}
	}
	if err := b.Subscribe(a.topics.Command("+"), a.commands, bridge.Sub{QoS: 1, WhenFull: bridge.Hold}); err != nil {
		a.log.Error("cannot subscribe to the commands", "err", err)
	}
	pending := a.pending
	a.pending = nil
	for _, m := range pending {
		_ = a.publish(m.topic, m.payload, m.p)
	}
	for _, r := range a.devs {
		if r.state != StateStopped {
			r.availSent = "" // a new bridge may have a new layout
			a.publishAvailability(r)
		}
	}
}

// publish implements publisher: it sends through the current bridge, or
// keeps the message while the bridge is being replaced.
func (a *Agent) publish(topic string, payload []byte, p config.Publish) error {
	if a.b == nil {
		if len(a.pending) >= maxPending {
			a.dropped++
			return fmt.Errorf("%d messages wait for the MQTT bridge: dropped", maxPending)
		}
		a.pending = append(a.pending, pendingMsg{topic, payload, p})
		return nil
	}
	err := a.b.TryPublish(topic, payload, pubOf(p))
	if err != nil {
		a.pubErrs++
	}
	return err
}

// waitRoom implements devEnv.room with bridge.WaitRoom. While the bridge
// is being replaced there is nothing to wait for: the new one starts empty.
func (a *Agent) waitRoom(t *loop.Task) error {
	if a.b == nil {
		return t.Checkpoint()
	}
	if err := a.b.WaitRoom(t); err != nil && !errors.Is(err, bridge.ErrClosed) {
		return err
	}
	return nil
}

// pubOf is how the bridge publishes a value: its delivery across an
// outage becomes the outbox's policy — latest keeps only the newest
// undelivered message of the topic, max_age drops what is too old when it
// could be sent, all delivers everything.
func pubOf(p config.Publish) bridge.Pub {
	pub := bridge.Pub{QoS: p.QoS, Retain: p.Retain}
	if p.QoS > 0 {
		switch p.Delivery {
		case config.DeliveryLatest:
			pub.Latest = true
		case config.DeliveryMaxAge:
			pub.MaxAge = p.MaxAge
		}
	}
	return pub
}

// availabilityTopic is a device's own availability topic,
// <base>/<node>/<device>/availability.
func (a *Agent) availabilityTopic(device string) string {
	return deviceAvailabilityTopic(a.topics.Base(), a.topics.Node(), device)
}

// publishAvailability publishes whether the device works (retained), when
// that changed.
func (a *Agent) publishAvailability(r *devRun) {
	payload := "offline"
	if r.available() {
		payload = "online"
	}
	if payload == r.availSent {
		return
	}
	r.availSent = payload
	_ = a.publish(a.availabilityTopic(r.cfg.Name), []byte(payload), config.Publish{QoS: 1, Retain: true, Delivery: config.DeliveryLatest})
}

// bridgeKey is what of a configuration makes a bridge: a reload that
// changes it needs a new one.
func bridgeKey(cfg *config.Config) string {
	m, h := cfg.MQTT, cfg.HomeAssistant
	// Home Assistant's prefix and birth topic are the bridge's
	// subscriptions and discovery topic; the rest of its section (device
	// name, area) is the payload, which the running bridge can change.
	return fmt.Sprintf("%#v|%#v|%#v|%s|%v|%v|%s|%s", m.Brokers, m, m.TLS, cfg.StateDir, cfg.ShutdownTimeout,
		h.Enabled, h.DiscoveryPrefix, h.BirthTopic)
}

// replaceBridge stops the running bridge and starts one for cfg. The
// outbox stays on disk in between, so nothing queued is lost; what devices
// publish meanwhile waits in memory.
func (a *Agent) replaceBridge(t *loop.Task, cfg *config.Config) error {
	a.b = nil
	if err := stopTasks(t, a.rpcTask); err != nil {
		return err
	}
	if a.bTask != nil {
		a.bTask.Cancel()
		if err := a.bTask.Wait(t); err != nil && !errors.Is(err, loop.ErrCancelled) {
			a.log.Warn("reload: the old MQTT bridge stopped with an error", "err", err)
		} else if err != nil && t.Cancelled() {
			return err
		}
	}
	b, err := loop.Offload(t, func(context.Context) (*bridge.Bridge, error) { return a.newBridge(cfg) })
	if err != nil {
		// Back to the old settings: they worked.
		a.log.Error("reload: the new MQTT settings do not work; keeping the old ones", "err", err)
		b, err = loop.Offload(t, func(context.Context) (*bridge.Bridge, error) { return a.newBridge(a.cfg) })
		if err != nil {
			return fmt.Errorf("MQTT bridge lost on reload: %w", err)
		}
		a.setBridge(b)
		a.bTask = a.l.Go("bridge", b.Run)
		a.rpcTask = a.l.Go("requests", a.rpc.Run)
		return err
	}
	a.setBridge(b)
	a.bTask = a.l.Go("bridge", b.Run)
	a.rpcTask = a.l.Go("requests", a.rpc.Run)
	return nil
}

// currentDiscovery is the payload Discovery gives for cfg, nil when there
// is none.
func currentDiscovery(cfg *config.Config, version string) ([]byte, error) {
	if len(homeAssistantNode(cfg, version).Entities) == 0 {
		return nil, nil // nothing announced: the device is removed
	}
	c, err := Discovery(cfg, version)
	if err != nil || c == nil {
		return nil, err
	}
	return c.Payload(), nil
}
