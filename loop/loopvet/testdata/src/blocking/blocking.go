// Package blocking holds check 1's cases: blocking calls in code that runs
// on the loop, and the look-alikes that must stay quiet.
package blocking

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
	"periph.io/x/conn/v3/gpio"
)

type device struct {
	mu   sync.Mutex
	rw   sync.RWMutex
	wg   sync.WaitGroup
	cond *sync.Cond
	conn net.Conn
	tcp  *net.TCPConn
	f    *os.File
	port serial.Port
	ch   chan int
	c    *http.Client
	tok  mqtt.Token
	pin  gpio.PinIn
}

type embedsMutex struct {
	sync.Mutex
	n int
}

func taskFunc(t *loop.Task, d *device) error {
	time.Sleep(time.Second) // want `time.Sleep blocks the loop in a function with a \*loop.Task parameter; use t.Sleep`
	d.mu.Lock()             // want `\(\*sync.Mutex\).Lock blocks the loop`
	d.mu.Unlock()
	d.rw.RLock() // want `\(\*sync.RWMutex\).RLock blocks the loop`
	d.rw.RUnlock()
	d.rw.Lock() // want `\(\*sync.RWMutex\).Lock blocks the loop`
	d.rw.Unlock()
	d.wg.Wait()   // want `\(\*sync.WaitGroup\).Wait blocks the loop`
	d.cond.Wait() // want `\(\*sync.Cond\).Wait blocks the loop`
	var e embedsMutex
	e.Lock() // want `\(\*sync.Mutex\).Lock blocks the loop`
	e.n++
	e.Unlock()
	(*sync.Mutex).Lock(&d.mu) // want `\(\*sync.Mutex\).Lock blocks the loop`
	d.mu.Unlock()
	if d.mu.TryLock() { // not blocking
		d.mu.Unlock()
	}

	d.ch <- 1       // want `channel send blocks the loop`
	v := <-d.ch     // want `channel receive blocks the loop`
	v, ok := <-d.ch // want `channel receive blocks the loop`
	_, _ = v, ok
	for x := range d.ch { // want `range over a channel blocks the loop`
		_ = x
	}
	for i := range 3 { // not a channel
		_ = i
	}
	select { // want `select without a default case blocks the loop`
	case v := <-d.ch:
		_ = v
	case d.ch <- 2:
	}
	select {} // want `select without a default case blocks the loop`

	buf := make([]byte, 8)
	d.conn.Read(buf)                                                // want `\(net.Conn\).Read blocks the loop in a function with a \*loop.Task parameter; run it in loop.Offload`
	d.conn.Write(buf)                                               // want `\(net.Conn\).Write blocks the loop`
	d.tcp.Read(buf)                                                 // want `\(\*net.TCPConn\).Read blocks the loop`
	d.f.Read(buf)                                                   // want `\(\*os.File\).Read blocks the loop`
	d.f.Sync()                                                      // want `\(\*os.File\).Sync blocks the loop`
	d.port.Read(buf)                                                // want `\(serial.Port\).Read blocks the loop`
	d.port.Write(buf)                                               // want `\(serial.Port\).Write blocks the loop`
	io.ReadFull(d.port, buf)                                        // want `io.ReadFull blocks the loop`
	io.ReadAll(d.conn)                                              // want `io.ReadAll blocks the loop`
	io.ReadAll(nopReader{})                                         // an io.Reader of unknown kind: not reported
	http.Get("http://example.com")                                  // want `http.Get blocks the loop`
	d.c.Do(&http.Request{})                                         // want `\(\*http.Client\).Do blocks the loop`
	net.Dial("tcp", "example.com:80")                               // want `net.Dial blocks the loop`
	net.LookupHost("example.com")                                   // want `net.LookupHost blocks the loop`
	(&net.Dialer{}).DialContext(context.Background(), "tcp", "x:1") // want `\(\*net.Dialer\).DialContext blocks the loop`
	d.tok.Wait()                                                    // want `\(mqtt.Token\).Wait blocks the loop`
	d.pin.WaitForEdge(-1)                                           // want `\(gpio.PinIn\).WaitForEdge blocks the loop in a function with a \*loop.Task parameter; wait for edges on a goroutine of its own`
	_ = d.pin.Read()                                                // a level read is quick

	// Not blocking: setting deadlines, closing, non-blocking channel work.
	d.conn.SetReadDeadline(time.Time{})
	d.port.Close()
	select {
	case v := <-d.ch:
		_ = v
	case d.ch <- 3:
	default:
	}
	return t.Sleep(time.Second)
}

type nopReader struct{}

func (nopReader) Read(p []byte) (int, error) { return 0, io.EOF }

// method has a *loop.Task parameter: it runs on the loop.
func (d *device) method(t *loop.Task) error {
	time.Sleep(1) // want `time.Sleep blocks the loop`
	return nil
}

// plain has no task: nothing is known about where it runs.
func plain(d *device) {
	time.Sleep(1)
	d.mu.Lock()
	<-d.ch
}

func literals(l *loop.Loop, d *device) {
	l.Go("x", func(t *loop.Task) error {
		time.Sleep(1) // want `time.Sleep blocks the loop in a function with a \*loop.Task parameter`

		// Offload runs its function on a goroutine of its own: blocking is
		// what it is for.
		n, err := loop.Offload(t, func(ctx context.Context) (int, error) {
			time.Sleep(1)
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.port.Read(make([]byte, 4))
		})
		_ = n
		if err != nil {
			return err
		}
		// Explicit instantiation too.
		if _, err := loop.Offload[[]byte](t, func(ctx context.Context) ([]byte, error) {
			return io.ReadAll(d.conn)
		}); err != nil {
			return err
		}

		// A go statement's body runs elsewhere too.
		go func() {
			time.Sleep(1)
			d.ch <- 1
			for range d.ch {
			}
		}()
		go time.Sleep(1)
		go d.wg.Wait()

		// Its arguments are evaluated here, though.
		go consume(<-d.ch) // want `channel receive blocks the loop`

		// A literal only defined is analysed as its own context.
		later := func() {
			time.Sleep(1)
		}
		_ = later

		// Called right here, it runs here.
		func() {
			time.Sleep(1) // want `time.Sleep blocks the loop in a function with a \*loop.Task parameter`
		}()
		defer func() {
			d.mu.Lock() // want `\(\*sync.Mutex\).Lock blocks the loop`
			d.mu.Unlock()
		}()

		// A literal with a task parameter is loop code wherever it is.
		var step loop.TaskFunc = func(t *loop.Task) error {
			<-d.ch // want `channel receive blocks the loop`
			return nil
		}
		return step(t)
	})

	l.CallSoon(func() {
		time.Sleep(1) // want `time.Sleep blocks the loop in a CallSoon callback`
	})
	l.CallLater(time.Second, func() {
		d.wg.Wait() // want `\(\*sync.WaitGroup\).Wait blocks the loop in a CallLater callback`
	})
	_ = l.Post(func() {
		<-d.ch // want `channel receive blocks the loop in a function posted to the loop`
	})

	// A method value given to CallSoon is not analysed here.
	l.CallSoon(d.wg.Wait)

	// Elsewhere, literals are not loop code.
	go func() {
		d.wg.Wait()
	}()
	time.AfterFunc(time.Second, func() {
		time.Sleep(1)
	})
}

func consume(int) {}

// A Post from a goroutine still runs its function on the loop, and so does
// an inlet's TryPost.
func fromGoroutine(l *loop.Loop, in *loop.Inlet, d *device) {
	go func() {
		v := <-d.ch // the goroutine may block
		_ = l.Post(func() {
			d.ch <- v // want `channel send blocks the loop in a function posted to the loop`
		})
		_ = in.TryPost(func() {
			time.Sleep(1) // want `time.Sleep blocks the loop in a function posted to the loop`
		})
	}()
}
