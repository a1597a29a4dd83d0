package nec_test

import (
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/nec"
)

// b.Loop keeps the calls in its body and their results alive, so no sink
// variables are needed.

// BenchmarkDecode measures one 68-edge frame, decoded and checked.
func BenchmarkDecode(b *testing.B) {
	edges := mustEncode(b, nec.Frame{Address: 0x04, Command: 0x08})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nec.Decode(edges, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecoderRepeat measures a repeat code through a Decoder.
func BenchmarkDecoderRepeat(b *testing.B) {
	var d nec.Decoder
	if _, err := d.Decode(mustEncode(b, nec.Frame{Address: 0x04, Command: 0x08})); err != nil {
		b.Fatal(err)
	}
	edges := mustEncode(b, nec.Frame{Repeat: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(edges); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBadStart measures rejecting noise: a failure allocates its
// *DecodeError.
func BenchmarkDecodeBadStart(b *testing.B) {
	edges := []time.Duration{0, time.Millisecond, 2 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nec.Decode(edges, false); err == nil {
			b.Fatal("decoded noise")
		}
	}
}

// BenchmarkBaselineSpaces is the floor Decode is compared with: reading the
// 32 bit spaces of a frame against the threshold, with no checks at all.
func BenchmarkBaselineSpaces(b *testing.B) {
	edges := mustEncode(b, nec.Frame{Address: 0x04, Command: 0x08})
	b.ReportAllocs()
	for b.Loop() {
		baselineBits(edges)
	}
}

func baselineBits(edges []time.Duration) uint32 {
	var v uint32
	for i := range 32 {
		if edges[4+2*i]-edges[3+2*i] > 1120*time.Microsecond {
			v |= 1 << i
		}
	}
	return v
}
