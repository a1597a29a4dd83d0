package bridge

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

// freezer is a TCP proxy that can stop passing bytes either way while
// keeping its connections open, as a paused broker does.
type freezer struct {
	addr string

	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed when unfrozen
}

func startFreezer(t *testing.T, upstream string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{addr: ln.Addr().String(), thaw: make(chan struct{})}
	close(f.thaw)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		f.set(false)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); f.pipe(up, down) }()
			go func() { defer wg.Done(); f.pipe(down, up) }()
		}
	}()
	return f
}

// pipe copies src to dst, holding what it read, and an end, while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		f.mu.Lock()
		thaw := f.thaw
		f.mu.Unlock()
		<-thaw
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) set(frozen bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if frozen == f.frozen {
		return
	}
	f.frozen = frozen
	if frozen {
		f.thaw = make(chan struct{})
	} else {
		close(f.thaw)
	}
}

// A broker that stops answering while its TCP connection stays open is
// noticed within 1.5 keepalives (WithKeepAlive's promise), by the
// bridge's own ping after half a keepalive of silence; paho's pinger alone
// took up to two keepalives. The connection is idle before the freeze (the
// worst case: paho has nothing outstanding to miss).
func TestSilentBrokerNoticedWithinKeepalive(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	fz := startFreezer(t, br.Addr())
	const keepAlive = time.Second
	opts := append(fastOpts(t, "n1", "tcp://"+fz.addr), WithKeepAlive(keepAlive))
	_, lb := scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		frozeAt := time.Now()
		fz.set(true)
		for b.Connected() {
			if err := b.WaitChange(tk); err != nil {
				return err
			}
		}
		noticed := time.Since(frozeAt)
		t.Logf("silent broker noticed after %v (keepalive %v)", noticed, keepAlive)
		// Let the shutdown reach the broker.
		fz.set(false)
		if noticed > keepAlive*3/2 {
			return fmt.Errorf("silent broker noticed after %v, want within 1.5 × %v", noticed, keepAlive)
		}
		return nil
	})
	if log := lb.String(); !strings.Contains(log, "connection dead") {
		t.Errorf("the loss was not reported as a dead connection:\n%s", log)
	}
}
