package uart

import (
	"errors"
	"fmt"
	"io"

	"github.com/edgeagent/edgeagent/loop"
)

// A LoopPort is a Port that lives on the loop: a simulated device
// (uarttest.Peer), or a transport whose I/O is already driven by a loop
// task. A Stream whose Opener returns one starts no goroutine for the
// connection: bytes arrive, are written and end on the loop, so a test on
// a virtual clock runs exactly, the same way every time. Its Read and
// SetReadTimeout are not used, Drain returns at once, and Write and Close
// are called on the loop and must not block.
type LoopPort interface {
	Port
	// Attach is called on the loop once the port has opened. From then on
	// the port hands each chunk it receives to rx and, if the device goes
	// away, the reason to hangup (io.EOF for a plain hang-up), both on l,
	// until detach is called.
	Attach(l *loop.Loop, rx func([]byte), hangup func(error)) (detach func())
}

// onOpenedLoop runs on the loop when c's port turned out to be a LoopPort:
// the connection is the loop's from here on.
func (s *Stream) onOpenedLoop(c *conn, lp LoopPort) {
	c.lp = lp
	c.detach = lp.Attach(s.l, func(p []byte) { s.onLoopData(c, p) }, func(err error) { s.endLoop(c, err) })
	s.onOpened(c)
}

// onLoopData takes bytes a LoopPort received: what fits the receive
// budget, the rest counted as lost, as the reader goroutine does.
func (s *Stream) onLoopData(c *conn, p []byte) {
	if c.ended {
		return
	}
	room := int64(s.cfg.rxBuffer) - s.used.Load()
	fit := int(max(min(int64(len(p)), room), 0))
	s.used.Add(int64(fit))
	s.rx.feed(s, 0, p[:fit])
	if lost := len(p) - fit; lost > 0 {
		s.rx.feed(s, uint64(lost), nil)
	}
	s.rxq.WakeAll()
}

// endLoop ends a LoopPort connection: by Run (err nil) or by the device
// (hangup).
func (s *Stream) endLoop(c *conn, err error) {
	if c.ended {
		return
	}
	if c.detach != nil {
		c.detach()
	}
	cerr := c.lp.Close()
	switch {
	case c.stopping:
		err = nil
	case err == nil || errors.Is(err, io.EOF):
		err = fmt.Errorf("uart %s: %w: %w", s.path, ErrVanished, io.EOF)
	case vanished(err):
		err = fmt.Errorf("uart %s: %w: %w", s.path, ErrVanished, err)
	default:
		err = fmt.Errorf("uart %s: read: %w", s.path, err)
	}
	if err == nil && cerr != nil && !c.stopping {
		err = fmt.Errorf("uart %s: close: %w", s.path, cerr)
	}
	s.onEnded(c, err, 0)
}

// writeLoop hands a batch to a LoopPort and reports it done on the next
// pass of the loop, as the writer goroutine would.
func (s *Stream) writeLoop(c *conn, req txReq) {
	n, err := writeAll(c.lp, req.buf)
	if err != nil {
		err = fmt.Errorf("uart %s: write: %w", s.path, err)
	}
	s.l.CallSoon(func() {
		if c.ended {
			return // onEnded has settled the books
		}
		s.onWritten(c, req, n, err)
		if err != nil {
			s.endLoop(c, err)
		}
	})
}
