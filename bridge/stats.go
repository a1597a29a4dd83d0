package bridge

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// Stats is a snapshot of a bridge's state and counters, since New.
type Stats struct {
	Connected       bool      `json:"connected"`
	Broker          string    `json:"broker,omitempty"` // the broker connected to
	ConnectedSince  time.Time `json:"connected_since,omitzero"`
	DisconnectedAt  time.Time `json:"disconnected_at,omitzero"` // when the last connection ended
	Connects        uint64    `json:"connects"`
	Reconnects      uint64    `json:"reconnects"`       // connects after the first
	Failovers       uint64    `json:"failovers"`        // connects to a broker other than the first
	ConnectFailures uint64    `json:"connect_failures"` // failed attempts
	// Echo says whether the broker delivered the node's own echo marker
	// back on this connection: "ok", "missing" (its ACL withholds what it
	// granted: see the README), or "" before the check.
	Echo string `json:"echo,omitempty"`

	Received          uint64         `json:"received"` // messages from the broker
	Inflow            InflowStats    `json:"inflow"`
	Acked             uint64         `json:"acked"`     // of which acknowledged (QoS ≥ 1)
	Unmatched         uint64         `json:"unmatched"` // messages no binding wanted
	SubscribeFailures uint64         `json:"subscribe_failures"`
	FuncPanics        uint64         `json:"func_panics,omitempty"` // SubscribeFunc functions that panicked
	Bindings          []BindingStats `json:"bindings,omitempty"`

	PublishedQoS0       uint64       `json:"published_qos0"`
	DroppedQoS0         uint64       `json:"dropped_qos0"`          // while disconnected, or too many waiting
	DroppedBeforeOutbox uint64       `json:"dropped_before_outbox"` // TryPublish messages dropped while the disk lagged
	Delivered           uint64       `json:"delivered"`             // QoS ≥ 1 messages the broker acknowledged
	PublishErrors       uint64       `json:"publish_errors"`        // outbox appends that failed
	EncodeErrors        uint64       `json:"encode_errors"`         // values a binding could not encode
	Outbox              outbox.Stats `json:"outbox"`

	HAAnnouncements uint64 `json:"ha_announcements"` // discovery configs published
}

// InflowStats is what paho has handed over and the loop has not taken yet:
// the memory the bridge holds for messages on their way in.
type InflowStats struct {
	QoS0Limit     int    `json:"qos0_limit"`      // WithQoS0Backlog
	QoS0Queued    int    `json:"qos0_queued"`     // now
	QoS0MaxQueued int    `json:"qos0_max_queued"` // the most at once, ≤ QoS0Limit
	QoS0Shed      uint64 `json:"qos0_shed"`       // dropped on arrival (the backlog was full), per binding in Bindings
	QoS1Queued    int    `json:"qos1_queued"`     // QoS ≥ 1, now: bounded by the broker's in-flight window
	QoS1MaxQueued int    `json:"qos1_max_queued"`
}

// BindingStats is one inbound binding (Subscribe, SubscribeFunc, or the
// bridge's own) and the state of its subscription.
type BindingStats struct {
	Binding string `json:"binding"` // the filter
	Kind    string `json:"kind"`    // "queue" (Subscribe), "func" (SubscribeFunc), "bridge" (the bridge's own)
	Policy  string `json:"policy,omitempty"`
	// State is the subscription's: "subscribed", "pending" (not yet on
	// this connection, or no connection) or "refused" (the broker answered
	// 0x80; retried with back-off).
	State    string `json:"state"`
	Refusals uint64 `json:"refusals,omitempty"`
	Received uint64 `json:"received"`
	Accepted uint64 `json:"accepted"` // put into the queue, or given to the function
	Acked    uint64 `json:"acked"`    // acknowledged to the broker once accepted
	Dropped  uint64 `json:"dropped"`  // dropped by DropOldest, for a closed queue, or held at Unsubscribe
	Rejected uint64 `json:"rejected"` // refused and left unacknowledged
	Held     int    `json:"held"`     // waiting for room (Hold)
	Shed     uint64 `json:"shed"`     // QoS 0 messages for it dropped on arrival while the loop was behind
}

// refreshOutboxStats caches the outbox's counters for Stats, which runs on
// the loop and must not wait for the outbox's lock (held across a segment
// rotation's fsync). Called by the goroutines that use the outbox.
func (b *Bridge) refreshOutboxStats() {
	s := b.ob.Stats()
	b.obStats.Store(&s)
}

// counters are updated by the bridge's goroutines.
type counters struct {
	received            atomic.Uint64
	shedQoS0            atomic.Uint64
	queuedQoS1          atomic.Int64 // QoS ≥ 1 messages posted to the loop, not yet routed
	maxQueuedQoS1       atomic.Int64
	acked               atomic.Uint64
	publishedQoS0       atomic.Uint64
	droppedQoS0         atomic.Uint64
	droppedBeforeOutbox atomic.Uint64
	delivered           atomic.Uint64
	publishErrors       atomic.Uint64
	connectFailures     atomic.Uint64
}

// loopStats are updated on the loop.
type loopStats struct {
	connects, reconnects, failovers uint64
	connectedAt, disconnectedAt     time.Time
	echo                            string
	droppedQoS0, unmatched          uint64
	encodeErrors, funcPanics        uint64
	subscribeFailures               uint64
	haAnnouncements                 uint64
}

// Stats returns a snapshot of the state and counters. Call it on the loop.
func (b *Bridge) Stats() Stats {
	s := Stats{
		Connected:           b.Connected(),
		DisconnectedAt:      b.st.disconnectedAt,
		Connects:            b.st.connects,
		Reconnects:          b.st.reconnects,
		Failovers:           b.st.failovers,
		ConnectFailures:     b.ctr.connectFailures.Load(),
		Received:            b.ctr.received.Load(),
		Acked:               b.ctr.acked.Load(),
		Unmatched:           b.st.unmatched,
		SubscribeFailures:   b.st.subscribeFailures,
		FuncPanics:          b.st.funcPanics,
		PublishedQoS0:       b.ctr.publishedQoS0.Load(),
		DroppedQoS0:         b.st.droppedQoS0 + b.ctr.droppedQoS0.Load(),
		DroppedBeforeOutbox: b.ctr.droppedBeforeOutbox.Load(),
		Delivered:           b.ctr.delivered.Load(),
		PublishErrors:       b.ctr.publishErrors.Load(),
		EncodeErrors:        b.st.encodeErrors,
		Outbox:              *b.obStats.Load(),
		HAAnnouncements:     b.st.haAnnouncements,
	}
	if c := b.conn; c != nil {
		s.Broker = b.brokers[c.broker].url
		s.ConnectedSince = b.st.connectedAt
		s.Echo = b.st.echo
	}
	s.Inflow = InflowStats{
		QoS0Limit: b.s.qos0Backlog, QoS0Shed: b.ctr.shedQoS0.Load(),
		QoS1Queued: int(b.ctr.queuedQoS1.Load()), QoS1MaxQueued: int(b.ctr.maxQueuedQoS1.Load()),
	}
	if b.inlet0 != nil {
		in := b.inlet0.Stats()
		s.Inflow.QoS0Queued, s.Inflow.QoS0MaxQueued = in.Queued, in.MaxQueued
	}
	for _, bd := range b.bindings {
		st := bd.st
		st.Shed = bd.shed.Load()
		if fs := b.filters[bd.filter]; fs != nil {
			st.State, st.Refusals = fs.state.String(), fs.refusals
		}
		s.Bindings = append(s.Bindings, st)
	}
	return s
}

// statusTask publishes Stats on the status topic every WithStatusInterval.
func (b *Bridge) statusTask(t *loop.Task) error {
	for {
		if err := t.Sleep(b.s.statusInterval); err != nil {
			return err
		}
		p, err := json.Marshal(b.Stats())
		if err != nil {
			b.log.Warn("bridge: status not encodable", "err", err)
			continue
		}
		b.send0(b.topics.Status(), p, false)
	}
}
