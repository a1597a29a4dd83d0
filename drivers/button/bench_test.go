package button_test

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// reportLatency reports the median and 99th percentile of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// runLoop runs main on a real-clock loop in a goroutine until stop is
// called.
func runLoop(b *testing.B, main loop.TaskFunc) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	l := loop.New()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx, main); err != nil && ctx.Err() == nil {
			b.Error(err)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// BenchmarkEdgeToEvent measures the latency from an edge on the pin to the
// button's event on the loop, through the real path: a goroutine blocked in
// the pin's WaitForEdge (conn's gpiotest pin, fed through its EdgesChan),
// Post, the debouncer (off, so every edge is an event) and the gesture
// machine. Baselines in the same run:
//
//   - chan: a goroutine blocked on a channel wakes and stamps the time — the
//     cheapest hand-over between goroutines there is;
//   - pin: a goroutine blocked in the same fake pin's WaitForEdge wakes,
//     reads it and stamps the time — the pin's own share (gpiotest's
//     WaitForEdge starts a timer per call);
//   - post: the same goroutine Posts a function that stamps the time on the
//     loop — the loop's share of the cost.
//
// Latency is edge (send) to stamp; ns/op also includes the reply.
func BenchmarkEdgeToEvent(b *testing.B) {
	b.Run("baseline-chan", func(b *testing.B) {
		in, out := make(chan time.Time), make(chan time.Time, 1)
		go func() {
			for range in {
				out <- time.Now()
			}
			close(out)
		}()
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			in <- t0
			lat = append(lat, (<-out).Sub(t0))
		}
		close(in)
		<-out
		reportLatency(b, lat)
	})

	b.Run("baseline-pin", func(b *testing.B) {
		pin := &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level)}
		out, stop := make(chan time.Time, 1), make(chan struct{})
		go func() {
			defer close(out)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if pin.WaitForEdge(100 * time.Millisecond) {
					_ = pin.Read()
					out <- time.Now()
				}
			}
		}()
		lat := make([]time.Duration, 0, b.N)
		level := gpio.Low
		for b.Loop() {
			t0 := time.Now()
			pin.EdgesChan <- level
			lat = append(lat, (<-out).Sub(t0))
			level = !level
		}
		close(stop)
		for range out {
		}
		reportLatency(b, lat)
	})

	b.Run("baseline-post", func(b *testing.B) {
		in, out := make(chan struct{}), make(chan time.Time, 1)
		stop := runLoop(b, func(t *loop.Task) error {
			l := t.Loop()
			go func() {
				for range in {
					_ = l.Post(func() {
						select {
						case out <- time.Now():
						default:
						}
					})
				}
			}()
			var never loop.WaitQueue
			return never.Wait(t)
		})
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			in <- struct{}{}
			lat = append(lat, (<-out).Sub(t0))
		}
		close(in)
		stop()
		reportLatency(b, lat)
	})

	b.Run("button", func(b *testing.B) {
		pin := &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level)}
		out := make(chan time.Time, 1)
		btn, err := button.New(pin,
			button.WithDebounce(0), button.WithLongPress(0), button.WithDoubleClick(0), button.WithQueueSize(1),
			button.OnEvent(func(button.Event) {
				select {
				case out <- time.Now():
				default:
				}
			}))
		if err != nil {
			b.Fatal(err)
		}
		started := make(chan struct{})
		stop := runLoop(b, func(t *loop.Task) error {
			g := loop.NewGroup(t)
			g.Go("button", btn.Run)
			if err := t.Yield(); err != nil {
				return err
			}
			close(started)
			return g.Wait(t)
		})
		<-started
		if btn.Input().Mode() != gpioin.Edges {
			b.Fatalf("mode %v, want edges", btn.Input().Mode())
		}
		lat := make([]time.Duration, 0, b.N)
		level := gpio.Low // pressed; the pull-up made it High
		for b.Loop() {
			t0 := time.Now()
			pin.EdgesChan <- level
			lat = append(lat, (<-out).Sub(t0))
			level = !level
		}
		stop()
		reportLatency(b, lat)
	})
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skip("getrusage:", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleButtons measures the CPU that 100 idle buttons cost, on the
// real clock: edge-driven (goroutines parked in WaitForEdge) against polled
// every 10 ms (gobot's period) and every 50 ms (the seed's). The baseline is
// the same loop with no button: what the benchmark's own 10 ms sleeps and
// the runtime cost. Each op is 10 ms of idling; cpu-%-of-a-core is the
// process's CPU time over the wall time.
func BenchmarkIdleButtons(b *testing.B) {
	const n = 100
	for _, mode := range []struct {
		name string
		opts []gpioin.Option
	}{
		{"baseline-no-buttons", nil},
		{"edges", nil},
		{"poll-10ms", []gpioin.Option{gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(10 * time.Millisecond)}},
		{"poll-50ms", []gpioin.Option{gpioin.WithMode(gpioin.Polling), gpioin.WithPollPeriod(50 * time.Millisecond)}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			btns := make([]*button.Button, n)
			if mode.name == "baseline-no-buttons" {
				btns = nil
			}
			for i := range btns {
				pin := &gpiotest.Pin{N: "GPIO", Num: i, EdgesChan: make(chan gpio.Level)}
				btn, err := button.New(pin, button.WithInput(mode.opts...))
				if err != nil {
					b.Fatal(err)
				}
				btns[i] = btn
			}
			started := make(chan struct{})
			stop := runLoop(b, func(t *loop.Task) error {
				g := loop.NewGroup(t)
				for _, btn := range btns {
					g.Go("", btn.Run)
				}
				if err := t.Yield(); err != nil {
					return err
				}
				close(started)
				return g.Wait(t)
			})
			<-started
			cpu0, wall0 := cpuTime(b), time.Now()
			for b.Loop() {
				time.Sleep(10 * time.Millisecond)
			}
			cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
			stop()
			b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%-of-a-core")
		})
	}
}
