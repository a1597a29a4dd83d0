package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// This file keeps what the broker is asked to send: one subscription per
// distinct filter of the bindings, its state, the retries of a refused one,
// and the unsubscriptions.

// subState is a subscription's state, shown per binding in Stats.
type subState int

const (
	// subPending: not subscribed on the current connection yet (or no
	// connection).
	subPending subState = iota
	// subActive: the broker granted it.
	subActive
	// subRefused: the broker answered 0x80; retried with back-off.
	subRefused
)

func (s subState) String() string {
	switch s {
	case subActive:
		return "subscribed"
	case subRefused:
		return "refused"
	}
	return "pending"
}

// filterSub is the subscription of one filter.
type filterSub struct {
	filter   string
	qos      byte
	state    subState
	refusals uint64
	round    int       // failed attempts since the last success
	retryAt  time.Time // not before then (zero: at once)
	sending  bool      // a SUBSCRIBE for it is out
}

// Back-off of a refused subscription: a broker refuses the same filter
// until its operator changes the ACL, so retries are slow and never stop.
const (
	DefaultSubscribeRetryMin = 5 * time.Second
	DefaultSubscribeRetryMax = 5 * time.Minute
)

// wantFilter makes sure filter is subscribed at qos or more.
func (b *Bridge) wantFilter(filter string, qos byte) {
	delete(b.unsubs, filter)
	fs := b.filters[filter]
	switch {
	case fs == nil:
		b.filters[filter] = &filterSub{filter: filter, qos: qos}
	case qos > fs.qos:
		fs.qos = qos
		fs.state, fs.retryAt = subPending, time.Time{} // again, at the higher QoS
	default:
		return
	}
	b.subWQ.WakeAll()
}

// dropFilterIfUnused forgets filter when no binding uses it any more and
// queues its unsubscription.
func (b *Bridge) dropFilterIfUnused(filter string) {
	for _, bd := range b.bindings {
		if bd.filter == filter {
			return
		}
	}
	delete(b.filters, filter)
	b.unsubs[filter] = true
	b.subWQ.WakeAll()
}

// subscriptionsDown marks what the lost connection had granted as pending
// again. Refused ones keep their state and back-off.
func (b *Bridge) subscriptionsDown() {
	for _, fs := range b.filters {
		if fs.state == subActive {
			fs.state = subPending
		}
	}
}

// subscriber is the task that, while connected, subscribes what was added
// since the connect, retries what the broker refused when its back-off
// allows, and sends unsubscriptions. (The connect itself subscribes
// everything in one SUBSCRIBE.)
func (b *Bridge) subscriber(t *loop.Task) error {
	for {
		c := b.conn
		if c == nil || c.down || !c.ready {
			if err := b.subWQ.Wait(t); err != nil {
				return err
			}
			continue
		}
		if len(b.unsubs) > 0 {
			if err := b.unsubscribeQueued(t, c); err != nil {
				if isInterrupt(err) && t.Cancelled() {
					return err
				}
				b.log.Warn("bridge: unsubscribe failed; retried on reconnect", "err", err)
				if err := b.subWQ.Wait(t); err != nil {
					return err
				}
			}
			continue
		}
		now := b.l.Now()
		due := map[string]byte{}
		var next time.Time
		for f, fs := range b.filters {
			if fs.state == subActive || fs.sending {
				continue
			}
			if !now.Before(fs.retryAt) {
				due[f] = fs.qos
			} else if next.IsZero() || fs.retryAt.Before(next) {
				next = fs.retryAt
			}
		}
		if len(due) > 0 {
			if err := b.subscribe(t, c, due); err != nil {
				if isInterrupt(err) && t.Cancelled() {
					return err
				}
				b.log.Warn("bridge: subscribe failed; retrying with back-off", "filters", slices.Sorted(maps.Keys(due)), "err", err)
			}
			continue
		}
		var err error
		if next.IsZero() {
			err = b.subWQ.Wait(t)
		} else {
			err = loop.WaitFor(t, next.Sub(now), b.subWQ.Wait)
		}
		if err != nil && (t.Cancelled() || !errors.Is(err, loop.ErrTimeout)) {
			return err
		}
	}
}

// subscribe sends one SUBSCRIBE for filters on c, awaits the SUBACK and
// records what the broker granted or refused. A failure (no SUBACK, the
// connection lost) leaves the filters to retry with back-off.
func (b *Bridge) subscribe(t *loop.Task, c *conn, filters map[string]byte) error {
	if len(filters) == 0 {
		return nil
	}
	for f := range filters {
		if fs := b.filters[f]; fs != nil {
			fs.sending = true
		}
	}
	res, err := loop.Offload(t, func(ctx context.Context) (map[string]byte, error) {
		tok := c.client.SubscribeMultiple(filters, nil)
		if err := c.await(ctx, tok); err != nil {
			return nil, err
		}
		return tok.(interface{ Result() map[string]byte }).Result(), nil
	})
	now := b.l.Now()
	for f := range filters {
		fs := b.filters[f]
		if fs == nil {
			continue // unsubscribed meanwhile
		}
		fs.sending = false
		if err != nil {
			fs.retryAt = now.Add(b.subRetryDelay(fs))
			continue
		}
		code, ok := res[f]
		switch {
		case !ok:
			fs.retryAt = now.Add(b.subRetryDelay(fs))
		case code == 0x80:
			fs.state = subRefused
			fs.refusals++
			b.st.subscribeFailures++
			d := b.subRetryDelay(fs)
			fs.retryAt = now.Add(d)
			b.log.Error("bridge: broker refused the subscription", "filter", f, "refusals", fs.refusals, "retry_in", d.Round(time.Millisecond))
		default:
			if fs.state == subRefused {
				b.log.Info("bridge: broker granted a subscription it had refused", "filter", f, "after_refusals", fs.refusals)
			}
			if c == b.conn {
				fs.state = subActive
			}
			fs.round, fs.retryAt = 0, time.Time{}
		}
	}
	b.notify()
	b.subWQ.WakeAll()
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// subRetryDelay is the next back-off delay of a filter, counting the
// attempt.
func (b *Bridge) subRetryDelay(fs *filterSub) time.Duration {
	d := b.s.subRetry.Delay(fs.round, 0, b.s.jitter())
	fs.round++
	return d
}

// unsubscribeQueued sends one UNSUBSCRIBE for the filters no binding
// wants any more and awaits the UNSUBACK.
func (b *Bridge) unsubscribeQueued(t *loop.Task, c *conn) error {
	if len(b.unsubs) == 0 {
		return nil
	}
	filters := slices.Sorted(maps.Keys(b.unsubs))
	_, err := loop.Offload(t, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.await(ctx, c.client.Unsubscribe(filters...))
	})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	for _, f := range filters {
		if _, again := b.filters[f]; !again {
			delete(b.unsubs, f)
		}
	}
	return nil
}
