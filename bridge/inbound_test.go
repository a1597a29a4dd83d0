package bridge

import (
	"errors"
	"fmt"
	"testing"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// publishN publishes "0" … "n-1" on topic, each acknowledged before the
// next, so the broker forwards them in that order.
func publishN(t *testing.T, tk *loop.Task, ext *testClient, topic string, from, n int) error {
	return offload(tk, func() {
		for i := from; i < from+n; i++ {
			ext.pub(t, topic, 1, false, fmt.Sprint(i))
		}
	})
}

func binding(s Stats, name string) BindingStats {
	for _, b := range s.Bindings {
		if b.Binding == name {
			return b
		}
	}
	return BindingStats{}
}

// A message the loop refused (Reject, queue full) is not acknowledged, so
// the broker delivers it again after a reconnect; an accepted one is
// acknowledged and never comes back.
func TestAckAfterAcceptRedelivery(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	const topic = "edgeagent/n1/cmd"
	q := primitives.NewQueue[Message](1)
	scenario(t, fastOpts(t, "n1", br.url()),
		func(b *Bridge) error { return b.Subscribe(topic, 1, q, Reject) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 2); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := binding(s, topic)
				return bs.Accepted == 1 && bs.Rejected == 1 && bs.Acked == 1
			}); err != nil {
				return err
			}
			m, err := q.Get(tk) // "0" makes room
			if err != nil || string(m.Payload) != "0" {
				return fmt.Errorf("first: %q %v", m.Payload, err)
			}
			// The acknowledgement of "0" has reached the broker.
			if err := br.waitAcked(tk, "edgeagent-n1", topic, "0"); err != nil {
				return err
			}
			// The link breaks; the persistent session keeps "1" in flight.
			if err := offload(tk, func() { br.kick(t, "edgeagent-n1") }); err != nil {
				return err
			}
			m, err = q.Get(tk)
			if err != nil || string(m.Payload) != "1" || !m.Duplicate {
				return fmt.Errorf("redelivered: %q dup=%v %v, want \"1\" dup=true", m.Payload, m.Duplicate, err)
			}
			if err := publishN(t, tk, ext, topic, 2, 1); err != nil {
				return err
			}
			m, err = q.Get(tk) // "0", acknowledged, must not come back first
			if err != nil || string(m.Payload) != "2" {
				return fmt.Errorf("after redelivery: %q %v, want \"2\"", m.Payload, err)
			}
			return waitStats(tk, b, func(s Stats) bool { return binding(s, topic).Acked == 3 && s.Reconnects == 1 })
		})
}

// Wait holds messages unacknowledged while the queue is full and feeds
// them in order as the task takes; each is acknowledged once queued.
func TestWaitPolicyHoldsInOrder(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	const topic = "edgeagent/n1/stream"
	q := primitives.NewQueue[Message](2)
	scenario(t, fastOpts(t, "n1", br.url()),
		func(b *Bridge) error { return b.Subscribe(topic, 1, q, Wait) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 10); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := binding(s, topic)
				return bs.Accepted == 2 && bs.Held == 8 && bs.Acked == 2
			}); err != nil {
				return err
			}
			for i := range 10 {
				m, err := q.Get(tk)
				if err != nil {
					return err
				}
				if string(m.Payload) != fmt.Sprint(i) {
					return fmt.Errorf("message %d: got %q", i, m.Payload)
				}
			}
			return waitStats(tk, b, func(s Stats) bool {
				bs := binding(s, topic)
				return bs.Acked == 10 && bs.Held == 0 && bs.Dropped == 0 && bs.Rejected == 0
			})
		})
}

// DropOldest keeps the newest messages; every drop is counted, and every
// message is acknowledged (dropping is a decision, not a refusal).
func TestDropOldestPolicy(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	const topic = "edgeagent/n1/temp"
	q := primitives.NewQueue[Message](2)
	scenario(t, fastOpts(t, "n1", br.url()),
		func(b *Bridge) error { return b.Subscribe(topic, 1, q, DropOldest) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 5); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := binding(s, topic)
				return bs.Received == 5 && bs.Dropped == 3 && bs.Acked == 5
			}); err != nil {
				return err
			}
			for _, want := range []string{"3", "4"} {
				m, err := q.TryGet()
				if err != nil || string(m.Payload) != want {
					return fmt.Errorf("got %q %v, want %q", m.Payload, err, want)
				}
			}
			return nil
		})
}

// Bad arguments are refused with ErrInvalid, naming what was wrong.
func TestBindingArguments(t *testing.T) {
	log, _ := testLogger(t)
	l := loop.New(loop.WithLogger(log))
	b, err := New(l, fastOpts(t, "n1", "tcp://127.0.0.1:1")...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	q := primitives.NewQueue[Message](1)
	ev := &primitives.Event[int]{}
	for _, c := range []struct {
		err  error
		want string
	}{
		{b.Subscribe("a/#/b", 1, q, Wait), "'#' must be the last level"},
		{b.Subscribe("a/b+", 1, q, Wait), "a wildcard must be the whole level"},
		{b.Subscribe("a/b", 3, q, Wait), "QoS 3"},
		{b.Subscribe("a/b", 1, nil, Wait), "nil queue"},
		{b.Subscribe("a/b", 1, q, Policy(7)), "unknown policy 7"},
		{b.Subscribe("", 1, q, Wait), "empty topic"},
		{b.Handle("a/b", func(*loop.Task, *Request) (any, error) { return nil, nil }), "one topic level"},
		{b.Handle("ok", nil), "nil handler"},
		{BindEvent(b, ev, "a/+", JSON, Pub{QoS: 1}), "wildcard '+'"},
		{BindEvent(b, ev, "a", nil, Pub{QoS: 1}), "nil event or encoder"},
		{BindQueue(b, q, "a", func(Message) ([]byte, error) { return nil, nil }, Pub{QoS: 9}), "QoS 9"},
		{b.TryPublish("a/#", nil, 0, false), "wildcard '#'"},
	} {
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", c.err)
			continue
		}
		mustContain(t, c.err.Error(), c.want)
	}
}

func TestMatchTopic(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false}, {"a/#", "a", true},
		{"a/#", "a/b/c", true}, {"#", "a/b", true}, {"#", "$SYS/x", false}, {"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true}, {"a/+/c", "a//c", true}, {"a/b", "a/b/", false}, {"+", "", true},
		{"a/+", "a/", true}, {"b/#", "a/b", false}, {"a/b/c", "a/b", false},
	} {
		if got := matchTopic(c.filter, c.topic); got != c.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

// A binding added while connected is subscribed at once, without waiting
// for a reconnect.
func TestSubscribeWhileConnected(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	q := primitives.NewQueue[Message](4)
	scenario(t, fastOpts(t, "n1", br.url()), nil, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		if err := b.Subscribe("edgeagent/n1/late/#", 1, q, Wait); err != nil {
			return err
		}
		if err := br.waitSubscribed(tk, "edgeagent-n1", "edgeagent/n1/late/#"); err != nil {
			return err
		}
		if err := offload(tk, func() { ext.pub(t, "edgeagent/n1/late/x", 1, false, "x") }); err != nil {
			return err
		}
		m, err := q.Get(tk)
		if err != nil || string(m.Payload) != "x" {
			return fmt.Errorf("got %q %v", m.Payload, err)
		}
		return nil
	})
}
