package bridge

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// publishN publishes "0" … "n-1" on topic, each acknowledged before the
// next, so the broker forwards them in that order.
func publishN(t *testing.T, tk *loop.Task, ext *bridgetest.Client, topic string, from, n int) error {
	return offload(tk, func() {
		for i := from; i < from+n; i++ {
			ext.Pub(t, topic, 1, false, fmt.Sprint(i))
		}
	})
}

// A message the loop refused (Reject, queue full) is not acknowledged, so
// the broker delivers it again after a reconnect; an accepted one is
// acknowledged and never comes back.
func TestAckAfterAcceptRedelivery(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	const topic = "edgeagent/n1/cmd"
	q := primitives.NewQueue[Message](1)
	scenario(t, fastOpts(t, "n1", br.URL()),
		func(b *Bridge) error { return b.Subscribe(topic, q, Sub{QoS: 1, WhenFull: Reject}) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 2); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := bindingStats(s, topic)
				return bs.Accepted == 1 && bs.Rejected == 1 && bs.Acked == 1
			}); err != nil {
				return err
			}
			m, err := q.Get(tk) // "0" makes room
			if err != nil || string(m.Payload) != "0" {
				return fmt.Errorf("first: %q %v", m.Payload, err)
			}
			// The acknowledgement of "0" has reached the broker.
			if err := waitAcked(tk, br, "n1", topic, "0"); err != nil {
				return err
			}
			// The link breaks; the persistent session keeps "1" in flight.
			if err := offload(tk, func() { br.Kick(t, "n1") }); err != nil {
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
			return waitStats(tk, b, func(s Stats) bool { return bindingStats(s, topic).Acked == 3 && s.Reconnects == 1 })
		})
}

// Hold holds messages unacknowledged while the queue is full and feeds
// them in order as the task takes; each is acknowledged once queued.
func TestHoldKeepsOrder(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	const topic = "edgeagent/n1/stream"
	q := primitives.NewQueue[Message](2)
	scenario(t, fastOpts(t, "n1", br.URL()),
		func(b *Bridge) error { return b.Subscribe(topic, q, Sub{QoS: 1, WhenFull: Hold}) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 10); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := bindingStats(s, topic)
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
				bs := bindingStats(s, topic)
				return bs.Acked == 10 && bs.Held == 0 && bs.Dropped == 0 && bs.Rejected == 0
			})
		})
}

// DropOldest keeps the newest messages; every drop is counted, and every
// message is acknowledged (dropping is a decision, not a refusal).
func TestDropOldestPolicy(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	const topic = "edgeagent/n1/temp"
	q := primitives.NewQueue[Message](2)
	scenario(t, fastOpts(t, "n1", br.URL()),
		func(b *Bridge) error { return b.Subscribe(topic, q, Sub{QoS: 1, WhenFull: DropOldest}) },
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := publishN(t, tk, ext, topic, 0, 5); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool {
				bs := bindingStats(s, topic)
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
		{b.Subscribe("a/#/b", q, Sub{QoS: 1, WhenFull: Hold}), "'#' must be the last level"},
		{b.Subscribe("a/b+", q, Sub{QoS: 1, WhenFull: Hold}), "a wildcard must be the whole level"},
		{b.Subscribe("a/b", q, Sub{QoS: 3, WhenFull: Hold}), "QoS 3"},
		{b.Subscribe("a/b", nil, Sub{QoS: 1, WhenFull: Hold}), "nil queue"},
		{b.Subscribe("a/b", q, Sub{QoS: 1, WhenFull: Overflow(7)}), "unknown Overflow 7"},
		{b.SubscribeFunc("a/+b", 1, func(Message) {}), "a wildcard must be the whole level"},
		{b.SubscribeFunc("a/b", 1, nil), "nil function"},
		{b.Unsubscribe("never/subscribed"), "no binding has this filter"},
		{b.Unbind("never/bound"), "no binding publishes there"},
		{b.Subscribe("", q, Sub{QoS: 1, WhenFull: Hold}), "empty topic"},
		{BindEvent(b, ev, "a/+", JSON, Pub{QoS: 1}), "wildcard '+'"},
		{BindEvent(b, ev, "a", nil, Pub{QoS: 1}), "nil event or encoder"},
		{BindQueue(b, q, "a", func(Message) ([]byte, error) { return nil, nil }, Pub{QoS: 9}), "QoS 9"},
		{b.TryPublish("a/#", nil, Pub{}), "wildcard '#'"},
		{b.TryPublish("a", nil, Pub{QoS: 0, Latest: true}), "QoS 0 and Direct publications skip the outbox"},
		{b.TryPublish("a", nil, Pub{QoS: 1, Direct: true, MaxAge: time.Second}), "skip the outbox"},
		{b.TryPublish("a", nil, Pub{QoS: 1, MaxAge: -time.Second}), "MaxAge -1s is negative"},
	} {
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", c.err)
			continue
		}
		mustContain(t, c.err.Error(), c.want)
	}
}

// A binding added while connected is subscribed at once, without waiting
// for a reconnect.
func TestSubscribeWhileConnected(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	q := primitives.NewQueue[Message](4)
	scenario(t, fastOpts(t, "n1", br.URL()), nil, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		if err := b.Subscribe("edgeagent/n1/late/#", q, Sub{QoS: 1, WhenFull: Hold}); err != nil {
			return err
		}
		if err := waitSubscribed(tk, br, "n1", "edgeagent/n1/late/#"); err != nil {
			return err
		}
		if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/late/x", 1, false, "x") }); err != nil {
			return err
		}
		m, err := q.Get(tk)
		if err != nil || string(m.Payload) != "x" {
			return fmt.Errorf("got %q %v", m.Payload, err)
		}
		return nil
	})
}

// A command published on an entity's set topic reaches a task through a
// queue; the task's state publication reaches the other client.
func TestCommandQueueTaskReply(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	states := ext.Sub(t, "edgeagent/n1/led/state", 1)
	cmds := primitives.NewQueue[Message](4)
	const cmdTopic = "edgeagent/n1/led/set"
	scenario(t, fastOpts(t, "n1", br.URL()),
		func(b *Bridge) error {
			return b.Subscribe(b.Topics().Command("led"), cmds, Sub{QoS: 1, WhenFull: Hold})
		},
		func(tk *loop.Task, b *Bridge) error {
			g := loop.NewGroup(tk)
			defer g.Cancel()
			g.Go("led", func(tk *loop.Task) error {
				for {
					m, err := cmds.Get(tk)
					if err != nil {
						return err
					}
					if err := b.Publish(tk, b.Topics().State("led"), m.Payload, Pub{QoS: 1, Retain: true}); err != nil {
						return err
					}
				}
			})
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			for _, cmd := range []string{"ON", "OFF", "ON"} {
				if err := offload(tk, func() { ext.Pub(t, cmdTopic, 1, false, cmd) }); err != nil {
					return err
				}
				if err := expect(tk, states, cmd); err != nil {
					return err
				}
			}
			return waitStats(tk, b, func(s Stats) bool {
				bs := bindingStats(s, cmdTopic)
				return bs.Acked == 3 && bs.Received == 3 && bs.State == "subscribed" && bs.Kind == "queue"
			})
		})
}
