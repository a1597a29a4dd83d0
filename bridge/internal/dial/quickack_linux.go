package dial

import (
	"bufio"
	"net"
	"syscall"
)

// quickAckReader re-arms TCP_QUICKACK between reads from the socket: the
// kernel leaves quick-ack mode on its own, so one setsockopt is not enough.
// It is set just before each read rather than just after: between two reads
// either way, but off the path from a segment's arrival to paho, since a
// read happens when paho has finished with the previous data.
type quickAckReader struct {
	c   *net.TCPConn
	raw syscall.RawConn
}

func (q *quickAckReader) Read(p []byte) (int, error) {
	if q.raw != nil {
		_ = q.raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return q.c.Read(p)
}

func newQuickAckConn(c *net.TCPConn) net.Conn {
	raw, err := c.SyscallConn()
	if err != nil {
		raw = nil
	}
	q := &quickAckReader{c: c, raw: raw}
	if raw != nil {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return &bufConn{Conn: c, r: bufio.NewReaderSize(q, 16<<10)}
}
