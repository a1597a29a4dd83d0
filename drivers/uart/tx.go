package uart

import (
	"fmt"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// txState is the transmit side, on the loop: bytes accepted by Write wait
// in pending until the writer goroutine is free, then go to it as one
// batch. queued counts pending and in-flight bytes, bounded by the
// transmit buffer.
type txState struct {
	lock    primitives.Lock // one Write at a time, so writes never interleave
	pending []byte
	spare   []byte // the last batch's buffer, reused
	busy    bool   // a batch is with the writer
	queued  int
	room    loop.WaitQueue // writers waiting for room, drainers for completion

	drainReq, drainSent, drainDone uint64 // drain requests made, handed over, completed
	epoch                          uint64 // connections ended: waiters of an older one fail
}

// Write queues p for the port and returns once every byte is queued: it
// waits for room in the transmit buffer, not for the wire, and never
// blocks the loop (a goroutine does the writing). Writes are atomic with
// respect to each other. It fails with ErrNotConnected while the port is
// not open, or if the connection ends before p is queued; bytes queued but
// not yet written when a connection ends are dropped and counted in
// Stats.TxDropped. Once Run has ended it fails with ErrClosed. An
// interrupted task queues nothing; if t is interrupted while Write waits
// for room, the part already queued is still sent.
func (s *Stream) Write(t *loop.Task, p []byte) error {
	if err := await.Checkpoint(t); err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	return s.tx.lock.With(t, func(t *loop.Task) error {
		total := len(p)
		for len(p) > 0 {
			if s.closed {
				return fmt.Errorf("uart %s: write: %w (%d of %d bytes queued)", s.path, ErrClosed, total-len(p), total)
			}
			if c := s.conn; c == nil || !c.up || c.txBroken {
				return fmt.Errorf("uart %s: write: %w (%d of %d bytes queued)", s.path, ErrNotConnected, total-len(p), total)
			}
			room := s.cfg.txBuffer - s.tx.queued
			if room <= 0 {
				if err := s.tx.room.Wait(t); err != nil {
					return err
				}
				continue
			}
			k := min(room, len(p))
			s.tx.pending = append(s.tx.pending, p[:k]...)
			s.tx.queued += k
			s.stats.Accepted += uint64(k)
			p = p[k:]
			s.tx.kick(s)
		}
		return nil
	})
}

// Drain waits until every byte queued before the call has been written
// and has left the wire (the port's Drain, tcdrain). It fails with
// ErrNotConnected if the port is not open or the connection ends first.
func (s *Stream) Drain(t *loop.Task) error {
	if err := await.Checkpoint(t); err != nil {
		return err
	}
	if s.closed {
		return fmt.Errorf("uart %s: drain: %w", s.path, ErrClosed)
	}
	c := s.conn
	if c == nil || !c.up || c.txBroken {
		return fmt.Errorf("uart %s: drain: %w", s.path, ErrNotConnected)
	}
	s.tx.drainReq++
	want, epoch := s.tx.drainReq, s.tx.epoch
	s.tx.kick(s)
	for s.tx.drainDone < want {
		if s.tx.epoch != epoch || c.txBroken {
			return fmt.Errorf("uart %s: drain: %w (the connection ended first)", s.path, ErrNotConnected)
		}
		if err := s.tx.room.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// kick hands the pending bytes, and any drain request, to an idle writer.
func (tx *txState) kick(s *Stream) {
	c := s.conn
	if c == nil || !c.up || c.txBroken || tx.busy {
		return
	}
	if len(tx.pending) == 0 && tx.drainSent == tx.drainReq {
		return
	}
	req := txReq{buf: tx.pending}
	if tx.drainSent != tx.drainReq {
		req.drain = tx.drainReq
	}
	if c.lp != nil {
		s.writeLoop(c, req)
	} else {
		select {
		case c.w.txc <- req:
		default: // cannot happen: the writer took the last batch before it reported it
			return
		}
	}
	tx.busy, tx.drainSent = true, tx.drainReq
	tx.pending, tx.spare = tx.spare[:0], nil
}

// onWritten runs on the loop when the writer has finished a batch.
func (s *Stream) onWritten(c *conn, req txReq, n int, err error) {
	tx := &s.tx
	tx.busy = false
	tx.queued -= len(req.buf)
	s.stats.Written += uint64(n)
	if err != nil {
		s.stats.TxDropped += uint64(len(req.buf) - n)
		c.txBroken = true
		s.l.Logger().Warn("uart: write failed", "path", s.path, "err", err)
	} else if req.drain > tx.drainDone {
		tx.drainDone = req.drain
	}
	tx.spare = req.buf[:0]
	tx.room.WakeAll()
	tx.kick(s)
}

// fail drops what is pending when a connection ends (or the stream
// closes) and wakes every waiter, which then sees why.
func (tx *txState) fail(s *Stream) {
	// queued is what is pending plus a batch the writer never took (it saw
	// the stop first); a batch it took has been reported by onWritten,
	// which runs before the connection's end.
	s.stats.TxDropped += uint64(tx.queued)
	tx.queued, tx.busy = 0, false
	tx.pending = tx.pending[:0]
	tx.drainSent = tx.drainReq
	tx.epoch++
	tx.room.WakeAll()
}
