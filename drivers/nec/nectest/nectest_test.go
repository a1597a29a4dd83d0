package nectest_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/drivers/nec/nectest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// record runs send against an input watching a fresh pin and returns the
// edges it saw, as offsets from the first.
func record(t *testing.T, jitter float64, send func(*loop.Task, *nectest.Remote) error) []time.Duration {
	t.Helper()
	pin := gpiointest.NewPin("IR", gpio.High)
	in, err := gpioin.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	var edges []time.Time
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	err = l.Run(context.Background(), func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("input", func(tk *loop.Task) error {
			return in.Run(tk, func(e gpioin.Edge) {
				if !e.Initial {
					edges = append(edges, e.Time)
				}
			})
		})
		r := nectest.NewRemote(pin)
		r.Jitter = jitter
		if err := send(tk, r); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Duration
	for _, e := range edges {
		out = append(out, e.Sub(edges[0]))
	}
	return out
}

// Send plays Encode's burst exactly, before the input has even started;
// a held key is a frame and repeat codes one repeat period apart.
func TestSendAndHold(t *testing.T) {
	want, _ := nec.Encode(nec.Frame{Address: 0x04, Command: 0x08})
	got := record(t, 0, func(tk *loop.Task, r *nectest.Remote) error { return r.Send(tk, 0x04, 0x08) })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Send: edges %v\nwant %v", got, want)
	}
	got = record(t, 0, func(tk *loop.Task, r *nectest.Remote) error { return r.Hold(tk, 0x04, 0x08, 300*time.Millisecond) })
	if len(got) != nec.FrameEdges+2*nec.RepeatEdges || got[nec.FrameEdges] != nec.RepeatPeriod || got[nec.FrameEdges+4] != 2*nec.RepeatPeriod {
		t.Errorf("Hold 300ms: %d edges, repeats at %v and %v", len(got), got[nec.FrameEdges], got[nec.FrameEdges+4])
	}
	if _, err := nec.Decode(got[:nec.FrameEdges], false); err != nil {
		t.Errorf("the held frame does not decode: %v", err)
	}
}

// Jitter moves every gap by at most its fraction, differently from gap to
// gap, the same way every run; the burst still decodes.
func TestJitter(t *testing.T) {
	nominal, _ := nec.Encode(nec.Frame{Address: 0x10, Command: 0x20})
	send := func(tk *loop.Task, r *nectest.Remote) error { return r.Send(tk, 0x10, 0x20) }
	a, b := record(t, 0.15, send), record(t, 0.15, send)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("two runs with the default seed differ")
	}
	moved := 0
	for i := 1; i < len(a); i++ {
		g, n := a[i]-a[i-1], nominal[i]-nominal[i-1]
		if r := float64(g) / float64(n); math.Abs(r-1) > 0.15+1e-9 {
			t.Errorf("gap %d: %v for %v, beyond ±15 %%", i, g, n)
		}
		if g != n {
			moved++
		}
	}
	if f, err := nec.Decode(a, false); err != nil || f.Command != 0x20 || moved < len(a)/2 {
		t.Errorf("jittered burst: %v, %v; %d of %d gaps moved", f, err, moved, len(a)-1)
	}
}

// A frame Encode refuses is an error, and nothing is played.
func TestSendFrameError(t *testing.T) {
	var err error
	got := record(t, 0, func(tk *loop.Task, r *nectest.Remote) error {
		err = r.SendFrame(tk, nec.Frame{Address: 0x1ff})
		return nil
	})
	if err == nil || len(got) != 0 {
		t.Errorf("SendFrame of a 9-bit address without Extended: %v, %d edges", err, len(got))
	}
}
