package bridge

import (
	"fmt"
	"testing"

	"github.com/edgeagent/edgeagent/loop"
)

// WaitRoom holds a producer while TryPublish's messages waiting for the
// outbox are at half their bound or more, and lets it go as soon as the
// writer has stored enough of them: the wake comes from the writer's
// goroutine.
func TestWaitRoomWaitsForTheWriter(t *testing.T) {
	scenario(t, fastOpts(t, "n1", "tcp://127.0.0.1:1"), nil, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitRoom(tk); err != nil {
			return fmt.Errorf("WaitRoom with nothing waiting: %v", err)
		}
		b.tryQueued.Add(roomMark) // as if the writer lagged that far behind
		done := false
		waiter := tk.Loop().Go("producer", func(t *loop.Task) error {
			err := b.WaitRoom(t)
			done = true
			return err
		})
		for range 5 {
			if err := tk.Yield(); err != nil {
				return err
			}
		}
		if done {
			return fmt.Errorf("WaitRoom returned with %d messages waiting (mark %d)", b.tryQueued.Load(), roomMark)
		}
		if err := offload(tk, func() { b.appended(1) }); err != nil { // the writer's goroutine
			return err
		}
		if err := waiter.Wait(tk); err != nil {
			return fmt.Errorf("WaitRoom after the writer made room: %v", err)
		}
		return nil
	})
}

// A producer that waits for room between batches publishes a burst three
// times the bound with nothing dropped: with the broker away, every
// message is in the outbox afterwards.
func TestBurstWithWaitRoomLosesNothing(t *testing.T) {
	const n = 3 * maxTryQueue
	scenario(t, fastOpts(t, "n1", "tcp://127.0.0.1:1"), nil, func(tk *loop.Task, b *Bridge) error {
		for i := range n {
			if i%64 == 0 {
				if err := b.WaitRoom(tk); err != nil {
					return err
				}
			}
			if err := b.TryPublish("edgeagent/n1/burst", fmt.Appendf(nil, "%d", i), Pub{QoS: 1}); err != nil {
				return fmt.Errorf("message %d: %v", i, err)
			}
		}
		if err := waitStats(tk, b, func(s Stats) bool { return s.DroppedBeforeOutbox != 0 || s.Outbox.Pending == n }); err != nil {
			return err
		}
		if s := b.Stats(); s.DroppedBeforeOutbox != 0 || s.Outbox.Pending != n {
			return fmt.Errorf("%d dropped before the outbox, %d of %d in it", s.DroppedBeforeOutbox, s.Outbox.Pending, n)
		}
		return nil
	})
}
