package htu21d_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
	"github.com/edgeagent/edgeagent/loop"
)

// slowBus takes d for every transaction. It spins rather than sleeps:
// time.Sleep's granularity (about 1 ms here) would blur sub-millisecond bus
// times, and for the loop the effect is the same — the calling goroutine
// does not come back until the transfer is over.
type slowBus struct {
	i2c.Bus
	d time.Duration
}

func (b *slowBus) Tx(addr uint16, w, r []byte) error {
	for start := time.Now(); time.Since(start) < b.d; {
	}
	return b.Bus.Tx(addr, w, r)
}

// BenchmarkTransfer answers "inline or loop.Offload?" for one bus transfer
// (a user register read: 1 byte written, 1 read), on the real clock. Alone,
// ns/op is the transfer's latency for the calling task. With a ticker — a
// task beside it that yields in a loop — p50/p99-stall-µs is how long the
// ticker waited between two of its turns, median and 99th percentile: how
// long a transfer holds the loop.
//
// Bus times: 0 (the driver's and Offload's own cost), 0.4 ms (the
// transfer's ~38 bit times at 100 kHz, plus the system call), 4 ms (a
// 10 kHz bus, or one another process holds).
//
//	go test -run '^$' -bench Transfer -benchtime 2000x ./drivers/htu21d/
func BenchmarkTransfer(b *testing.B) {
	for _, busTime := range []time.Duration{0, 400 * time.Microsecond, 4 * time.Millisecond} {
		for _, offload := range []bool{false, true} {
			mode := "inline"
			if offload {
				mode = "offload"
			}
			for _, ticker := range []bool{false, true} {
				name := fmt.Sprintf("bus=%v/%s", busTime, mode)
				if ticker {
					name += "/ticker"
				}
				b.Run(name, func(b *testing.B) { benchTransfer(b, busTime, offload, ticker) })
			}
		}
	}
}

func benchTransfer(b *testing.B, busTime time.Duration, offload, ticker bool) {
	var opts []htu21d.Option
	if offload {
		opts = append(opts, htu21d.WithOffload())
	}
	d, err := htu21d.New(&slowBus{Bus: htu21dtest.New(nil), d: busTime}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	l := loop.New(loop.WithHogThreshold(0), loop.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	var gaps []time.Duration
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		done := !ticker
		g := loop.NewGroup(tk)
		g.Go("ticker", func(tk *loop.Task) error {
			for !done {
				before := time.Now()
				if err := tk.Yield(); err != nil {
					return err
				}
				gaps = append(gaps, time.Since(before))
			}
			return nil
		})
		b.ResetTimer()
		for range b.N {
			if _, err := d.UserRegister(tk); err != nil {
				return err
			}
			if ticker {
				if err := tk.Yield(); err != nil { // let the ticker see the loop again
					return err
				}
			}
		}
		b.StopTimer()
		done = true
		return g.Wait(tk)
	})
	if err != nil {
		b.Fatal(err)
	}
	if ticker && len(gaps) > 0 {
		slices.Sort(gaps)
		q := func(f float64) float64 { return float64(gaps[int(f*float64(len(gaps)-1))].Nanoseconds()) / 1e3 }
		b.ReportMetric(q(0.5), "p50-stall-µs")
		b.ReportMetric(q(0.99), "p99-stall-µs")
	}
}
