// Package uart is the serial-stream driver: a device opened by path with
// go.bug.st/serial, read and written from tasks of the cooperative loop —
// the seed's StreamReader/StreamWriter over a UART (tutorial §5.3–5.4).
//
// A Stream's Run task owns the connection. Per connection, a reader
// goroutine (the seed's interrupt side) opens the port, reads it and hands
// what it read to the loop in batches, through the stream's loop.Inlet: one
// post in flight, the receive budget bounding the bytes that wait; it never
// touches loop state. A port that lives on the loop (LoopPort, such as
// uarttest.Peer) needs no goroutines at all. A
// writer goroutine writes what Write queued, so a slow device never blocks
// the loop. When the device vanishes — USB adapter unplugged, pty master
// closed — the stream publishes a Disconnected state and Run reopens the
// path with capped, jittered exponential back-off.
//
// On the loop, the received bytes wait in a bounded buffer for ReadLine,
// ReadExactly, Read or Records (framing by line ending or fixed length,
// into a Queue). Bytes are never lost silently: an overflow, a line too
// long, a line cut by a disconnect is counted in Stats and reported to the
// reader as a *LossError, and the stream goes on.
//
// The package must not import bridge, and must not block the loop: every
// blocking Read, Write, open and close on a port belongs to a goroutine of
// its own. pty_spike_test.go records how go.bug.st/serial behaves on
// pseudo-terminals, and the design follows from it: Read returns (0, nil)
// at its timeout, the same PortClosed for our Close and for a vanished
// device, and Close races a Read in progress — so only the reader
// goroutine closes the port, after its Read has returned.
package uart
