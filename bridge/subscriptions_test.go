package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// A subscription the broker refuses (SUBACK 0x80, as Mosquitto's
// dynamic-security plugin answers for a filter its ACL denies) is the
// binding's state — in Stats and on the status topic — while the others
// work; it is retried on the default back-off (5 s doubling to 5 min, here
// with the jitter fixed at the middle), never in a hot loop, and once the
// broker grants it, messages flow. On virtual time: ten minutes of
// refusals take no time at all.
func TestRefusedSubscriptionRetriedWithBackoff(t *testing.T) {
	const secret, cmd = "edgeagent/n1/secret/#", "edgeagent/n1/cmd"
	br := startBroker(t, brokerOpts{})
	br.DenySubscribe(secret, true)
	ext := newTestClient(t, br.URL(), "ext")
	status := ext.Sub(t, "edgeagent/n1/status", 0)
	log, _ := testLogger(t)
	l := loop.New(loop.WithClock(loop.NewVirtualClock()), loop.WithLogger(log))
	b, err := New(l, WithBrokers(br.URL()), WithNode("n1"), WithStateDir(t.TempDir()), WithLogger(log),
		WithStatusInterval(time.Minute), withJitter(func() float64 { return 0.5 }))
	if err != nil {
		t.Fatal(err)
	}
	secrets, cmds := primitives.NewQueue[Message](4), primitives.NewQueue[Message](4)
	for _, err := range []error{
		b.Subscribe(secret, secrets, Sub{QoS: 1}),
		b.Subscribe(cmd, cmds, Sub{QoS: 1}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	virtualRun(t, l, b, func(tk *loop.Task) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		start := tk.Loop().Now()
		// Delays of 3.75 s, 7.5 s, 15 s, 30 s, 60 s, 120 s, 225 s …: the
		// refusals come at 0, 3.75, 11.25, 26.25, 56.25, 116.25, 236.25 and
		// 461.25 s — eight in ten minutes.
		if err := tk.Sleep(10 * time.Minute); err != nil {
			return err
		}
		s := b.Stats()
		sec, ok := bindingStats(s, secret), bindingStats(s, cmd)
		if sec.State != "refused" || sec.Refusals != 8 || s.SubscribeFailures != 8 || ok.State != "subscribed" {
			return fmt.Errorf("after 10 min: secret %+v, cmd %+v, failures %d; want refused 8 times, cmd subscribed", sec, ok, s.SubscribeFailures)
		}
		// The status topic shows it too.
		for {
			p, err := recvPayload(tk, status)
			if err != nil {
				return err
			}
			var st Stats
			if err := json.Unmarshal([]byte(p), &st); err != nil {
				return fmt.Errorf("status %s: %w", p, err)
			}
			if bs := bindingStats(st, secret); bs.State == "refused" && bs.Refusals >= 7 {
				break
			}
		}
		// Commands flow meanwhile.
		if err := offload(tk, func() { ext.Pub(t, cmd, 1, false, "ON") }); err != nil {
			return err
		}
		if m, err := cmds.Get(tk); err != nil || string(m.Payload) != "ON" {
			return fmt.Errorf("command: %q %v", m.Payload, err)
		}
		// The operator fixes the ACL: the next retry on the schedule is
		// granted and the binding works. (Waiting for the command above let
		// virtual time run on to the next timer, so that retry may be the
		// ninth or a later one.)
		br.DenySubscribe(secret, false)
		refused := bindingStats(b.Stats(), secret).Refusals
		for bindingStats(b.Stats(), secret).State != "subscribed" {
			if err := b.WaitChange(tk); err != nil {
				return err
			}
		}
		// (A retry already on its way when the ACL changed may still be
		// refused: one more at most.)
		got := bindingStats(b.Stats(), secret).Refusals
		at, want := tk.Loop().Now().Sub(start), time.Duration(0)
		for k := range got {
			want += min(5*time.Second<<k, 5*time.Minute) * 3 / 4
		}
		if got > refused+1 || at != want {
			return fmt.Errorf("granted at %v after %d refusals (%d when allowed), want at %v", at, got, refused, want)
		}
		if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/secret/code", 1, false, "1234") }); err != nil {
			return err
		}
		if m, err := secrets.Get(tk); err != nil || string(m.Payload) != "1234" {
			return fmt.Errorf("secret: %q %v", m.Payload, err)
		}
		return nil
	})
}

// Unsubscribe takes a filter away for good: at once while connected, at the
// next connect when offline (a persistent session would otherwise keep it),
// and no reconnect subscribes it again. Unbind stops an outbound binding.
func TestUnsubscribeAndUnbind(t *testing.T) {
	const gone, offline, kept = "edgeagent/n1/gone", "edgeagent/n1/offline", "edgeagent/n1/kept"
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.URL(), "ext")
	temps := ext.Sub(t, "edgeagent/n1/temperature/state", 1)
	qGone, qOff, qKept := primitives.NewQueue[Message](4), primitives.NewQueue[Message](4), primitives.NewQueue[Message](4)
	ev := &primitives.Event[int]{}
	scenario(t, fastOpts(t, "n1", br.URL()),
		func(b *Bridge) error {
			return errors.Join(
				b.Subscribe(gone, qGone, Sub{QoS: 1}),
				b.Subscribe(offline, qOff, Sub{QoS: 1}),
				b.Subscribe(kept, qKept, Sub{QoS: 1}),
				BindEvent(b, ev, b.Topics().State("temperature"), Text, Pub{QoS: 1, Retain: true, Latest: true}),
			)
		},
		func(tk *loop.Task, b *Bridge) error {
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			if err := b.Unsubscribe(gone); err != nil {
				return err
			}
			if err := waitUnsubscribed(tk, br, "n1", gone); err != nil {
				return err
			}
			// Offline: the broker refuses the node for a while.
			br.Deny("n1")
			if err := offload(tk, func() { br.Kick(t, "n1") }); err != nil {
				return err
			}
			if err := waitStats(tk, b, func(s Stats) bool { return !s.Connected && s.ConnectFailures > 0 }); err != nil {
				return err
			}
			if err := b.Unsubscribe(offline); err != nil {
				return err
			}
			if !br.Subscribed("n1", offline) {
				return fmt.Errorf("the persistent session lost %s by itself", offline)
			}
			br.Allow()
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			for _, f := range []string{gone, offline} {
				if br.Subscribed("n1", f) {
					return fmt.Errorf("after the reconnect the broker still has %s", f)
				}
			}
			// Only the kept filter's message arrives; the others are not
			// even sent.
			if err := offload(tk, func() {
				ext.Pub(t, gone, 1, false, "g")
				ext.Pub(t, offline, 1, false, "o")
				ext.Pub(t, kept, 1, false, "k")
			}); err != nil {
				return err
			}
			if m, err := qKept.Get(tk); err != nil || string(m.Payload) != "k" {
				return fmt.Errorf("kept: %q %v", m.Payload, err)
			}
			if qGone.Len() != 0 || qOff.Len() != 0 || b.Stats().Unmatched != 0 {
				return fmt.Errorf("unsubscribed filters still deliver: %d %d, unmatched %d", qGone.Len(), qOff.Len(), b.Stats().Unmatched)
			}
			// Unbind: the event's next value is not published; a later
			// publication on the same topic is.
			ev.Set(1)
			if err := expect(tk, temps, "1"); err != nil {
				return err
			}
			if err := b.Unbind(b.Topics().State("temperature")); err != nil {
				return err
			}
			ev.Set(2)
			if err := tk.Yield(); err != nil {
				return err
			}
			if err := b.Publish(tk, b.Topics().State("temperature"), []byte("marker"), Pub{QoS: 1}); err != nil {
				return err
			}
			return expect(tk, temps, "marker")
		})
}

// waitUnsubscribed waits, off the loop, until client id holds no
// subscription to filter on br.
func waitUnsubscribed(tk *loop.Task, br *bridgetest.Broker, id, filter string) error {
	return offloadErr(tk, func(ctx context.Context) error { return br.WaitUnsubscribed(ctx, id, filter) })
}
