package uart

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"

	"github.com/edgeagent/edgeagent/drivers/internal/inlet"
	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
)

// A wire is what a connection's goroutines share with the loop: settings
// fixed at dial, channels and atomics. The goroutines — the seed's
// interrupt side — never touch the Stream: everything they learn reaches
// the loop through Post (a few per connection) or the stream's inlet (bytes).
//
// The reader goroutine owns the port once it has opened (the open itself
// is an Offload of Run's): it starts the writer, and closes the port only
// after the writer has finished and its own Read has returned. go.bug.st/serial's Close is not safe against a Read or Write in
// progress (the spike: EBADF, and a descriptor number that may already name
// another file), so nothing else ever closes the port; a stop request is
// seen at the next read timeout instead.
type wire struct {
	l      *loop.Loop
	inlet  *inlet.Inlet // the reader's way into the loop: one drain waiting at most
	path   string
	used   *atomic.Int64 // receive-buffer budget in use (shared with the loop)
	budget int64

	stop   chan struct{} // closed by the loop: end the connection
	exited chan struct{} // closed by the reader goroutine as it returns
	txc    chan txReq    // loop → writer, one batch at a time

	// The hand-over of received bytes to the loop (see deliver).
	batch *inlet.Batch[byte]
}

// txReq is one batch for the writer: bytes, and the drain request it
// completes (0 for none) once they are written.
type txReq struct {
	buf   []byte
	drain uint64
}

// post hands fn to the loop; false once the loop has stopped.
func (w *wire) post(fn func()) bool { return w.l.Post(fn) == nil }

func (w *wire) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// run is the reader goroutine of one connection, whose port has opened.
func (w *wire) run(s *Stream, c *conn, port Port) {
	defer close(w.exited)
	wfail := make(chan error, 1)
	wstop := make(chan struct{})
	wdone := make(chan struct{})
	go w.write(s, c, port, wstop, wdone, wfail)

	w.batch = inlet.NewBatch(w.inlet, func(b []byte, lost uint64) {
		s.onData(nil, 0, b) // copied into the receive buffer
		if lost > 0 {
			s.onData(nil, lost, nil)
		}
	})
	err := w.readLoop(port, wfail)
	close(wstop)
	<-wdone
	if cerr := port.Close(); cerr != nil && err == nil && !w.stopped() {
		err = fmt.Errorf("uart %s: close: %w", w.path, cerr)
	}
	// Posted after every drain of this goroutine's, so the loop has all
	// the bytes before it hears of the end.
	w.post(func() { s.onEnded(c, err, 0) })
}

// readLoop reads until the stop request, a write failure, or a read
// error, which it returns (nil for a stop).
func (w *wire) readLoop(port Port, wfail <-chan error) error {
	buf := make([]byte, readChunk)
	for {
		select {
		case <-w.stop:
			return nil
		case err := <-wfail:
			return err
		default:
		}
		n, err := safeRead(port, buf)
		if n > 0 && !w.deliver(buf[:n]) {
			return nil // the loop has stopped
		}
		if n == 0 && !w.batch.Retry() { // a read timeout: (0, nil)
			return nil
		}
		if err != nil {
			if w.stopped() {
				return nil
			}
			if vanished(err) {
				return fmt.Errorf("uart %s: %w: %w", w.path, ErrVanished, err)
			}
			return fmt.Errorf("uart %s: read: %w", w.path, err)
		}
	}
}

// vanished tells whether a Read error means the device has gone.
// go.bug.st/serial says PortClosed for a hung-up tty; a tty *os.File (and
// other Ports) say io.EOF. In the moment between a pty master's close and
// the slave's hang-up, n_tty fails reads with EIO instead (seen about once
// in a few thousand hang-ups); ENXIO and ENODEV come from devices removed
// under an open descriptor.
func vanished(err error) bool {
	var pe *serial.PortError
	return errors.As(err, &pe) && pe.Code() == serial.PortClosed ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV)
}

// safeRead calls port.Read, turning a panic into an error: go.bug.st/serial
// panics when the port's descriptor is 1024 or above (its select(2) FdSet).
func safeRead(port Port, buf []byte) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("port Read panicked (a descriptor above 1023?): %v", p)
		}
	}()
	return port.Read(buf)
}

// deliver adds the bytes that fit the receive budget to the batch waiting
// for the loop, and counts the rest as lost; a batch is its bytes, then
// its loss, so after a loss it takes no more bytes until drained. A flood
// therefore costs one post at a time, and the budget bounds the bytes
// held: bytes are never lost unseen, only counted and reported in order.
// It reports false once the loop has stopped.
func (w *wire) deliver(p []byte) bool {
	return w.batch.Add(func(pending []byte, lost uint64) ([]byte, uint64) {
		room := w.budget - w.used.Load()
		fit := int(max(min(int64(len(p)), room), 0))
		if lost > 0 {
			fit = 0
		}
		w.used.Add(int64(fit))
		return append(pending, p[:fit]...), lost + uint64(len(p)-fit)
	})
}

// write is the writer goroutine: it writes each batch the loop hands over
// and reports back. go.bug.st/serial's Write has no timeout, so a device
// that stops draining (a pty nobody reads) holds this goroutine, and the
// port's Close waits for it; a real UART without flow control always
// drains at its baud rate.
func (w *wire) write(s *Stream, c *conn, port Port, stop <-chan struct{}, done chan<- struct{}, fail chan<- error) {
	defer close(done)
	for {
		var req txReq
		select {
		case <-stop:
			return
		case req = <-w.txc:
		}
		n, err := writeAll(port, req.buf)
		if err == nil && req.drain > 0 {
			if derr := port.Drain(); derr != nil {
				err = fmt.Errorf("drain: %w", derr)
			}
		}
		if err != nil {
			err = fmt.Errorf("uart %s: write: %w", w.path, err)
		}
		if !w.post(func() { s.onWritten(c, req, n, err) }) {
			return
		}
		if err != nil {
			fail <- err // buffered, sent once: the writer stops here
			return
		}
	}
}

func writeAll(port Port, p []byte) (int, error) {
	total := 0
	for total < len(p) {
		n, err := port.Write(p[total:])
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, errors.New("port wrote nothing")
		}
	}
	return total, nil
}
