package nec_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// FuzzReceiver feeds arbitrary edge trains through the input layer into a
// Receiver: whatever arrives, it must not panic, every burst must come out as
// exactly one result (a frame, a repeat or an error value), and every edge
// must belong to a burst. Each pair of bytes is the gap to the next edge in
// units of 8 µs (up to ~0.5 s).
func FuzzReceiver(f *testing.F) {
	toBytes := func(edges []time.Duration) []byte {
		var b []byte
		for i := 1; i < len(edges); i++ {
			b = binary.LittleEndian.AppendUint16(b, uint16((edges[i]-edges[i-1])/(8*time.Microsecond)))
		}
		return b
	}
	frame, _ := nec.Encode(nec.Frame{Address: 0x04, Command: 0x08})
	rep, _ := nec.Encode(nec.Frame{Repeat: true})
	f.Add(toBytes(frame))
	f.Add(append(toBytes(frame), append([]byte{0x30, 0x13}, toBytes(rep)...)...))
	f.Add([]byte{1, 0, 1, 0, 1, 0, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4000 {
			return
		}
		var steps []gpiointest.Step
		at := time.Duration(0)
		steps = append(steps, gpiointest.Step{At: 0, Level: gpio.Low})
		for i := 0; i+1 < len(data); i += 2 {
			gap := time.Duration(binary.LittleEndian.Uint16(data[i:])) * 8 * time.Microsecond
			at += max(gap, 8*time.Microsecond)
			steps = append(steps, gpiointest.Step{At: at, Level: gpio.Level(len(steps)%2 == 1)})
		}
		pin := gpiointest.NewPin("IR", gpio.High)
		var results, edges int
		r, err := nec.New(pin, nec.WithQueueSize(1), nec.OnEvent(func(res nec.Received) {
			results++
			edges += res.Edges
			if res.Err != nil && res.Frame != (nec.Frame{}) {
				t.Errorf("an error result carries a frame: %+v", res)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
			return drivertest.Play(tk, "ir", r.Run, pin, time.Second, steps...)
		})
		s := r.Stats()
		if uint64(results) != s.Frames+s.Repeats+s.Errors {
			t.Fatalf("%d results, stats %+v", results, s)
		}
		if edges+int(s.Late) != len(steps) {
			t.Fatalf("%d edges in results and %d late, %d sent", edges, s.Late, len(steps))
		}
	})
}
