package bridge

import (
	"bufio"
	"net"
	"syscall"
)

// quickAckReader re-arms TCP_QUICKACK after every read from the socket:
// the kernel leaves quick-ack mode on its own, so one setsockopt is not
// enough.
type quickAckReader struct {
	c   *net.TCPConn
	raw syscall.RawConn
}

func (q *quickAckReader) Read(p []byte) (int, error) {
	n, err := q.c.Read(p)
	if q.raw != nil {
		_ = q.raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return n, err
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
