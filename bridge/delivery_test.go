package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// While the broker is away, states published with Latest keep only their
// newest value in the outbox and events with a MaxAge expire: when the link
// returns, Home Assistant gets the current temperature, not its history,
// and a button pressed two minutes ago does not switch anything. Both are
// counted. On virtual time.
func TestDeliveryPoliciesAcrossAnOutage(t *testing.T) {
	br := startBroker(t, brokerOpts{Deny: "n1"})
	ext := newTestClient(t, br.URL(), "ext")
	all := ext.Sub(t, "edgeagent/n1/#", 1)
	log, _ := testLogger(t)
	l := loop.New(loop.WithClock(loop.NewVirtualClock()), loop.WithLogger(log))
	b, err := New(l, WithBrokers(br.URL()), WithNode("n1"), WithStateDir(t.TempDir()), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	state := Pub{QoS: 1, Retain: true, Latest: true}
	event := Pub{QoS: 1, MaxAge: time.Minute}
	virtualRun(t, l, b, func(tk *loop.Task) error {
		pub := func(topic, payload string, p Pub) error {
			return b.Publish(tk, "edgeagent/n1/"+topic, []byte(payload), p)
		}
		for _, err := range []error{
			pub("button/event", "pressed two minutes ago", event),
			pub("temperature/state", "20.0", state),
			pub("log", "kept", Pub{QoS: 1}),
			pub("temperature/state", "20.5", state),
		} {
			if err != nil {
				return err
			}
		}
		if err := tk.Sleep(2 * time.Minute); err != nil {
			return err
		}
		for _, err := range []error{
			pub("temperature/state", "21.0", state),
			pub("button/event", "pressed just now", event),
		} {
			if err != nil {
				return err
			}
		}
		br.Allow()
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		var got []string
		for len(got) < 3 {
			m, err := recv(tk, all)
			if err != nil {
				return err
			}
			if strings.HasSuffix(m.Topic(), "/availability") || strings.HasSuffix(m.Topic(), "/echo") {
				continue
			}
			got = append(got, strings.TrimPrefix(m.Topic(), "edgeagent/n1/")+" "+string(m.Payload()))
		}
		want := []string{"log kept", "temperature/state 21.0", "button/event pressed just now"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			return fmt.Errorf("after the outage: %q, want %q", got, want)
		}
		return waitStats(tk, b, func(s Stats) bool {
			return s.Outbox.Superseded == 2 && s.Outbox.Expired == 1 && s.Outbox.Pending == 0
		})
	})
}

// TryPublish cannot queue without limit: under RejectNew it fails with
// outbox.ErrFull once the outbox (with what waits for it) is full.
func TestTryPublishFullUnderRejectNew(t *testing.T) {
	opts := append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithOutboxLimits(5, 1<<20), WithOutboxOverflow(outbox.RejectNew))
	scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		for i := range 5 {
			if err := b.Publish(tk, "edgeagent/n1/data", []byte{byte(i)}, Pub{QoS: 1}); err != nil {
				return err
			}
		}
		err := b.TryPublish("edgeagent/n1/data", []byte("one too many"), Pub{QoS: 1})
		if !errors.Is(err, outbox.ErrFull) {
			return fmt.Errorf("TryPublish into a full outbox: %v, want outbox.ErrFull", err)
		}
		mustContain(t, err.Error(), "outbox: full: TryPublish edgeagent/n1/data: 5 messages stored and 0 waiting for the disk (limit 5)")
		if s := b.Stats(); s.Outbox.Pending != 5 || s.PublishErrors != 1 {
			return fmt.Errorf("stats %+v, %d publish errors", s.Outbox, s.PublishErrors)
		}
		return nil
	})
}

// A broker that grants the node's subscriptions but withholds what is
// published on them — what Mosquitto's acl_file does to a topic its ACL
// denies — is noticed: the node's echo marker never comes back, Stats says
// so ("missing") and the log says what to check. On virtual time, so that
// the echo's wait takes no time; a broker that delivers gives "ok" (on the
// real clock, since the echo really travels).
func TestEchoShowsSilentDenial(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	br.Withhold("edgeagent/n1/echo", true)
	log, lb := testLogger(t)
	l := loop.New(loop.WithClock(loop.NewVirtualClock()), loop.WithLogger(log))
	b, err := New(l, WithBrokers(br.URL()), WithNode("n1"), WithStateDir(t.TempDir()), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	virtualRun(t, l, b, func(tk *loop.Task) error {
		return waitStats(tk, b, func(s Stats) bool { return s.Echo == "missing" })
	})
	mustContain(t, lb.String(), "the broker does not deliver the node's own topics back",
		"acl_file", "read access of this node's user to edgeagent/n1/#")
	if _, withheld := br.Refusals(); withheld == 0 {
		t.Error("the broker withheld nothing: the test proves nothing")
	}
	br2 := startBroker(t, brokerOpts{})
	scenario(t, fastOpts(t, "n2", br2.URL()), nil, func(tk *loop.Task, b *Bridge) error {
		return waitStats(tk, b, func(s Stats) bool { return s.Echo == "ok" })
	})
}
