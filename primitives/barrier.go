package primitives

import "github.com/edgeagent/edgeagent/loop"

// A Barrier makes a set number of tasks meet: each Wait returns when the
// last of the parties has arrived, and the barrier is ready for the next
// round. An optional action runs once per round, when the last arrives,
// before anyone goes on (the seed's Barrier with its callback).
//
// A waiting party that is cancelled or times out withdraws its arrival:
// the round then needs another arrival to complete, so the others are not
// released short of a party.
type Barrier struct {
	parties int
	arrived int
	round   uint64
	action  func()
	waiters loop.WaitQueue
}

// NewBarrier returns a barrier for parties tasks (at least 1) running
// action, if not nil, at the end of each round.
func NewBarrier(parties int, action func()) *Barrier {
	return &Barrier{parties: max(parties, 1), action: action}
}

// Wait arrives at the barrier and waits for the round to complete. The
// last to arrive runs the action and goes on without waiting. A task
// already interrupted does not arrive: Wait fails first (also as the last
// party), and the round still needs an arrival.
func (b *Barrier) Wait(t *loop.Task) error {
	if err := t.Checkpoint(); err != nil {
		return err
	}
	round := b.round
	if b.arrive() {
		return nil
	}
	for b.round == round {
		if err := b.waiters.Wait(t); err != nil {
			if b.round == round {
				b.arrived--
			}
			return err
		}
	}
	return nil
}

// Trigger arrives without waiting (the seed's trigger), for a party that
// only signals — a callback, say. It reports whether it completed a round.
func (b *Barrier) Trigger() bool { return b.arrive() }

func (b *Barrier) arrive() bool {
	b.arrived++
	if b.arrived < b.parties {
		return false
	}
	b.arrived = 0
	b.round++
	if b.action != nil {
		b.action()
	}
	b.waiters.WakeAll()
	return true
}

// Busy reports whether a round is under way: some, not all, have arrived.
func (b *Barrier) Busy() bool { return b.arrived > 0 }

// Arrived reports how many parties wait in the current round.
func (b *Barrier) Arrived() int { return b.arrived }
