package bridge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// pingReq is an MQTT PINGREQ packet.
var pingReq = []byte{0xc0, 0x00}

// aliveConn is the connection to the broker as paho sees it, watched for
// silence. paho pings only when its check, every half keepalive, finds the
// link idle for a whole keepalive, and gives up a ping timeout later: a
// broker that stopped answering with its TCP connection open (a frozen
// process, `docker pause`, a dead path) went unnoticed for up to two
// keepalives. aliveConn sends a PINGREQ of its own after half a keepalive
// without a byte from the broker and declares the link dead after a whole
// one, so a silent broker is noticed within a keepalive of its last word,
// inside the 1.5 keepalives WithKeepAlive promises.
type aliveConn struct {
	net.Conn
	wmu  sync.Mutex   // paho writes each packet in one Write: a ping goes between two
	last atomic.Int64 // unix ns of the last Read that returned data

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func newAliveConn(c net.Conn) *aliveConn {
	a := &aliveConn{Conn: c, done: make(chan struct{})}
	a.last.Store(time.Now().UnixNano())
	return a
}

func (a *aliveConn) Read(p []byte) (int, error) {
	n, err := a.Conn.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (a *aliveConn) Write(p []byte) (int, error) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.Conn.Write(p)
}

func (a *aliveConn) Close() error {
	a.closeOnce.Do(func() { close(a.done) })
	return a.Conn.Close()
}

// watch runs until the connection is closed; it pings after keepAlive/2
// of silence and calls dead (once, then returns) after keepAlive of it.
// start is closed when the CONNECT has completed: before that the connect
// timeout governs.
func (a *aliveConn) watch(keepAlive time.Duration, start <-chan struct{}, dead func(silence time.Duration)) {
	select {
	case <-start:
	case <-a.done:
		return
	}
	half := keepAlive / 2
	var pingedFor int64 // the last read a ping was sent after
	timer := time.NewTimer(half)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-a.done:
			return
		}
		last := a.last.Load()
		silence := time.Since(time.Unix(0, last))
		if silence >= keepAlive {
			dead(silence)
			return
		}
		if silence >= half && pingedFor != last {
			pingedFor = last
			// Off this goroutine: a write to a dead link may block until
			// the socket is closed, which is this goroutine's job.
			go func() { _, _ = a.Write(pingReq) }()
		}
		next := time.Unix(0, last).Add(half)
		if pingedFor == last {
			next = time.Unix(0, last).Add(keepAlive)
		}
		timer.Reset(time.Until(next))
	}
}
