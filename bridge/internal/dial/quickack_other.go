//go:build !linux

package dial

import (
	"bufio"
	"net"
)

// Only Linux has TCP_QUICKACK; elsewhere reads are just buffered.
func newQuickAckConn(c *net.TCPConn) net.Conn {
	return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}
}
