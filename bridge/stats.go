package bridge

import (
	"encoding/json"
	"sync/atomic"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// Stats is a snapshot of a bridge's counters, since New.
type Stats struct {
	Connected       bool   `json:"connected"`
	Broker          string `json:"broker,omitempty"` // the broker connected to
	Connects        uint64 `json:"connects"`
	Reconnects      uint64 `json:"reconnects"`       // connects after the first
	Failovers       uint64 `json:"failovers"`        // connects to a broker other than the first
	ConnectFailures uint64 `json:"connect_failures"` // failed attempts

	Received          uint64         `json:"received"`  // messages from the broker
	Acked             uint64         `json:"acked"`     // of which acknowledged (QoS ≥ 1)
	Unmatched         uint64         `json:"unmatched"` // messages no binding wanted
	SubscribeFailures uint64         `json:"subscribe_failures"`
	Bindings          []BindingStats `json:"bindings,omitempty"`

	PublishedQoS0 uint64       `json:"published_qos0"`
	DroppedQoS0   uint64       `json:"dropped_qos0"`   // while disconnected, or too many waiting
	Delivered     uint64       `json:"delivered"`      // QoS ≥ 1 messages the broker acknowledged
	PublishErrors uint64       `json:"publish_errors"` // outbox appends that failed
	EncodeErrors  uint64       `json:"encode_errors"`  // values a binding could not encode
	Outbox        outbox.Stats `json:"outbox"`

	RequestsServed  uint64 `json:"requests_served"`
	RequestErrors   uint64 `json:"request_errors"` // error replies sent
	RequestsSent    uint64 `json:"requests_sent"`
	RequestTimeouts uint64 `json:"request_timeouts"`
	LateReplies     uint64 `json:"late_replies"` // replies to no pending request
	BadReplies      uint64 `json:"bad_replies"`  // unreadable replies

	HAAnnouncements uint64 `json:"ha_announcements"` // discovery configs published
}

// BindingStats counts one inbound binding (Subscribe, or a Handle method).
type BindingStats struct {
	Binding  string `json:"binding"` // the filter, or the method's request topic
	Policy   string `json:"policy"`
	Received uint64 `json:"received"`
	Accepted uint64 `json:"accepted"` // put into the queue
	Acked    uint64 `json:"acked"`    // acknowledged to the broker once accepted
	Dropped  uint64 `json:"dropped"`  // dropped by DropOldest, or for a closed queue
	Rejected uint64 `json:"rejected"` // refused and left unacknowledged
	Held     int    `json:"held"`     // waiting for room (Wait)
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
	received        atomic.Uint64
	acked           atomic.Uint64
	publishedQoS0   atomic.Uint64
	droppedQoS0     atomic.Uint64
	delivered       atomic.Uint64
	publishErrors   atomic.Uint64
	connectFailures atomic.Uint64
}

// loopStats are updated on the loop.
type loopStats struct {
	connects, reconnects, failovers uint64
	droppedQoS0, unmatched          uint64
	encodeErrors                    uint64
	subscribeFailures               uint64
	requestsServed, requestErrors   uint64
	requestsSent, requestTimeouts   uint64
	lateReplies, badReplies         uint64
	haAnnouncements                 uint64
}

// Stats returns a snapshot of the counters. Call it on the loop.
func (b *Bridge) Stats() Stats {
	s := Stats{
		Connected:         b.Connected(),
		Connects:          b.st.connects,
		Reconnects:        b.st.reconnects,
		Failovers:         b.st.failovers,
		ConnectFailures:   b.ctr.connectFailures.Load(),
		Received:          b.ctr.received.Load(),
		Acked:             b.ctr.acked.Load(),
		Unmatched:         b.st.unmatched,
		SubscribeFailures: b.st.subscribeFailures,
		PublishedQoS0:     b.ctr.publishedQoS0.Load(),
		DroppedQoS0:       b.st.droppedQoS0 + b.ctr.droppedQoS0.Load(),
		Delivered:         b.ctr.delivered.Load(),
		PublishErrors:     b.ctr.publishErrors.Load(),
		EncodeErrors:      b.st.encodeErrors,
		Outbox:            *b.obStats.Load(),
		RequestsServed:    b.st.requestsServed,
		RequestErrors:     b.st.requestErrors,
		RequestsSent:      b.st.requestsSent,
		RequestTimeouts:   b.st.requestTimeouts,
		LateReplies:       b.st.lateReplies,
		BadReplies:        b.st.badReplies,
		HAAnnouncements:   b.st.haAnnouncements,
	}
	if b.conn != nil {
		s.Broker = b.brokers[b.conn.broker].url
	}
	for _, in := range b.inboxes {
		s.Bindings = append(s.Bindings, in.st)
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
