package uart_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/uart"
	"github.com/edgeagent/edgeagent/loop"
	"go.bug.st/serial"
)

// benchLine is a typical sensor line: 32 bytes with its CRLF.
var benchLine = []byte("T=21.53 H=40.12 P=1013.2 seq=42\r\n")

// burst is how many lines the benchmark's device sends at a time; at most
// two bursts (34 KB) are in flight, so neither reader can overflow: the
// pty moves bytes far faster than any UART, and a Stream drops what does
// not fit its receive buffer (64 KiB) rather than stall the device.
const burst = 512

// feedLines writes n lines to the pty master from a goroutine of its own,
// a burst at a time, waiting for a credit from the reader for each.
func feedLines(master *os.File, n int, credits <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat(benchLine, burst)
		for n > 0 {
			<-credits
			k := min(n, burst)
			if _, err := master.Write(chunk[:k*len(benchLine)]); err != nil {
				done <- err
				return
			}
			n -= k
		}
		done <- nil
	}()
	return done
}

// newCredits returns the credit channel, holding the first two credits.
func newCredits() chan struct{} {
	c := make(chan struct{}, 2)
	c <- struct{}{}
	c <- struct{}{}
	return c
}

// credit returns a burst's credit to the device; it never blocks (at most
// two credits exist).
func credit(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// BenchmarkLinesThroughPty compares lines per second through a
// pseudo-terminal: the Stream's ReadLine on the loop (reader goroutine,
// Post, framing, an await per line) against the baseline, a bufio.Scanner
// reading the same kind of port, opened the same way, on a goroutine.
func BenchmarkLinesThroughPty(b *testing.B) {
	b.Run("baseline-bufio.Scanner", func(b *testing.B) {
		master, path := drivertest.OpenPty(b)
		defer master.Close()
		port, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
		if err != nil {
			b.Fatal(err)
		}
		defer port.Close()
		sc := bufio.NewScanner(port)
		b.SetBytes(int64(len(benchLine)))
		credits := newCredits()
		b.ResetTimer()
		done := feedLines(master, b.N, credits)
		for i := range b.N {
			if !sc.Scan() {
				b.Fatal(sc.Err())
			}
			if (i+1)%burst == 0 {
				credit(credits)
			}
		}
		b.StopTimer()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("Stream.ReadLine", func(b *testing.B) {
		master, path := drivertest.OpenPty(b)
		defer master.Close()
		l := loop.New(loop.WithHogThreshold(0))
		s, err := uart.New(path, uart.WithReadTimeout(10*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(benchLine)))
		var done <-chan error
		err = l.Run(context.Background(), func(t *loop.Task) error {
			g := loop.NewGroup(t)
			g.Go("uart", s.Run)
			if _, err := s.WaitState(t, func(st uart.State) bool { return st.Status == uart.Connected }); err != nil {
				return err
			}
			credits := newCredits()
			b.ResetTimer()
			done = feedLines(master, b.N, credits)
			for i := range b.N {
				if _, err := s.ReadLine(t); err != nil {
					return err
				}
				if (i+1)%burst == 0 {
					credit(credits)
				}
			}
			b.StopTimer()
			g.Cancel()
			return g.Wait(t)
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if st := s.Stats(); st.Dropped != 0 {
			b.Fatalf("dropped %d bytes", st.Dropped)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
