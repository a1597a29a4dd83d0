package nec_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/nec"
)

// The fuzz input is a flag byte (bit 0: accept 16-bit addresses) followed by
// little-endian int16 gaps between edges in microseconds: negative and zero
// gaps are allowed, so the fuzzer can try edges out of order.

func toFuzz(extended bool, edges []time.Duration) []byte {
	b := []byte{0}
	if extended {
		b[0] = 1
	}
	for _, g := range gaps(edges) {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(g/time.Microsecond)))
	}
	return b
}

func fromFuzz(b []byte) (extended bool, edges []time.Duration) {
	if len(b) == 0 {
		return false, nil
	}
	extended, b = b[0]&1 != 0, b[1:]
	var t time.Duration
	edges = append(edges, t)
	for ; len(b) >= 2; b = b[2:] {
		t += time.Duration(int16(binary.LittleEndian.Uint16(b))) * time.Microsecond
		edges = append(edges, t)
	}
	return extended, edges
}

func FuzzDecode(f *testing.F) {
	enc := func(fr nec.Frame) []time.Duration { return mustEncode(f, fr) }
	frame := enc(nec.Frame{Address: 0x04, Command: 0x08})
	ext := enc(nec.Frame{Address: 0x1234, Command: 0x42, Extended: true})
	repeat := enc(nec.Frame{Repeat: true})
	seeds := []struct {
		extended bool
		edges    []time.Duration
	}{
		{false, frame},
		{true, frame},
		{true, ext},
		{false, ext},                     // bad address
		{false, repeat},                  // repeat
		{false, frame[:40]},              // bad block
		{false, repeat[:3]},              // bad repeat
		{false, append(frame, frame...)}, // overrun (and out of order)
		{false, frame[:2]},               // bad start
		{false, encodeBits(0x00ff00ff)},  // bad data
		{false, scaleGaps(frame, func(int) float64 { return 0.8 })},
		{false, scaleGaps(ext, func(int) float64 { return 1.2 })},
		{false, nil},
	}
	for _, s := range seeds {
		f.Add(toFuzz(s.extended, s.edges))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		extended, edges := fromFuzz(b)
		got, err := nec.Decode(edges, extended)
		if err != nil {
			var de *nec.DecodeError
			if !errors.As(err, &de) || nec.ErrorCode(err) == 0 || !errors.Is(err, de.Unwrap()) {
				t.Fatalf("Decode error %#v is not a *DecodeError of a known kind", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, de.Unwrap().Error()+": ") || len(msg) <= len(de.Unwrap().Error())+2 {
				t.Fatalf("Decode error message %q says nothing measured", msg)
			}
			if got != (nec.Frame{}) {
				t.Fatalf("Decode failed with %v but returned frame %v", err, got)
			}
		} else {
			if got.Extended && !extended {
				t.Fatalf("Decode returned extended frame %v when not allowed", got)
			}
			// What decodes must be what the frame encodes to, up to timing.
			if got.Repeat && len(edges) != nec.RepeatEdges || !got.Repeat && len(edges) != nec.FrameEdges {
				t.Fatalf("Decode accepted %v from %d edges", got, len(edges))
			}
			again, err := nec.Decode(mustEncode(t, got), extended)
			if err != nil || again != got {
				t.Fatalf("Decode(Encode(%v)) = %v, %v", got, again, err)
			}
		}
		var d nec.Decoder
		d.Extended = extended
		d.Decode(edges) // must not panic either
	})
}
