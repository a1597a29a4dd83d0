package nec_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/nec"
)

// mustEncode encodes f or fails the test.
func mustEncode(t testing.TB, f nec.Frame) []time.Duration {
	t.Helper()
	edges, err := nec.Encode(f)
	if err != nil {
		t.Fatalf("Encode(%v): %v", f, err)
	}
	return edges
}

// encodeBits builds a 68-edge frame carrying any 32 bits (LSB first), so that
// tests can send check bytes Encode would never produce.
func encodeBits(v uint32) []time.Duration {
	gaps := []time.Duration{nec.LeaderMark, nec.LeaderSpace}
	for i := range 32 {
		space := nec.ZeroSpace
		if v&(1<<i) != 0 {
			space = nec.OneSpace
		}
		gaps = append(gaps, nec.BitMark, space)
	}
	return fromGaps(0, append(gaps, nec.BitMark))
}

// fromGaps turns durations between edges into edge times starting at start.
func fromGaps(start time.Duration, gaps []time.Duration) []time.Duration {
	edges := []time.Duration{start}
	for _, g := range gaps {
		start += g
		edges = append(edges, start)
	}
	return edges
}

// gaps returns the durations between successive edges.
func gaps(edges []time.Duration) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(edges); i++ {
		out = append(out, edges[i]-edges[i-1])
	}
	return out
}

// scaleGaps multiplies each gap by the factor scale returns for it.
func scaleGaps(edges []time.Duration, scale func(i int) float64) []time.Duration {
	g := gaps(edges)
	for i := range g {
		g[i] = time.Duration(float64(g[i]) * scale(i))
	}
	return fromGaps(edges[0], g)
}

func TestDecodeValidFrames(t *testing.T) {
	frames := []nec.Frame{
		{Address: 0x00, Command: 0x00},
		{Address: 0x04, Command: 0x08},
		{Address: 0xff, Command: 0xff},
		{Address: 0x80, Command: 0x01},
		{Address: 0x1234, Command: 0x42, Extended: true},
		{Address: 0xfffe, Command: 0x00, Extended: true},
		{Address: 0x0100, Command: 0xff, Extended: true},
	}
	for _, want := range frames {
		edges := mustEncode(t, want)
		if len(edges) != nec.FrameEdges {
			t.Fatalf("Encode(%v) gave %d edges, want %d", want, len(edges), nec.FrameEdges)
		}
		got, err := nec.Decode(edges, true)
		if err != nil || got != want {
			t.Errorf("Decode(Encode(%v), extended) = %v, %v", want, got, err)
		}
		got, err = nec.Decode(edges, false)
		if want.Extended {
			if !errors.Is(err, nec.ErrBadAddress) {
				t.Errorf("Decode(Encode(%v), 8-bit only) = %v, %v; want ErrBadAddress", want, got, err)
			}
		} else if err != nil || got != want {
			t.Errorf("Decode(Encode(%v), 8-bit only) = %v, %v", want, got, err)
		}
	}
}

// TestDecodeEveryByte round-trips every 8-bit address with every command,
// from a burst whose timestamps do not start at zero (an edge watcher's
// clock has an arbitrary origin).
func TestDecodeEveryByte(t *testing.T) {
	origin := 1234567 * time.Microsecond
	for a := range 256 {
		for c := range 256 {
			want := nec.Frame{Address: uint16(a), Command: uint8(c)}
			edges := mustEncode(t, want)
			for i := range edges {
				edges[i] += origin
			}
			got, err := nec.Decode(edges, false)
			if err != nil || got != want {
				t.Fatalf("Decode(Encode(%v)) = %v, %v", want, got, err)
			}
		}
	}
}

func TestDecodeRepeat(t *testing.T) {
	edges := mustEncode(t, nec.Frame{Repeat: true, Address: 7, Command: 9})
	if len(edges) != nec.RepeatEdges {
		t.Fatalf("repeat code has %d edges, want %d", len(edges), nec.RepeatEdges)
	}
	got, err := nec.Decode(edges, false)
	if err != nil || got != (nec.Frame{Repeat: true}) {
		t.Fatalf("Decode(repeat) = %v, %v; want a bare repeat", got, err)
	}
}

func TestDecoderRepeatCarriesLastFrame(t *testing.T) {
	repeat := mustEncode(t, nec.Frame{Repeat: true})
	var d nec.Decoder

	if f, err := d.Decode(repeat); !errors.Is(err, nec.ErrBadRepeat) {
		t.Fatalf("repeat before any frame = %v, %v; want ErrBadRepeat", f, err)
	} else if !strings.Contains(err.Error(), "no frame before it") {
		t.Errorf("orphan repeat message %q does not say why", err)
	}

	first := nec.Frame{Address: 0x04, Command: 0x08}
	if f, err := d.Decode(mustEncode(t, first)); err != nil || f != first {
		t.Fatalf("frame = %v, %v; want %v", f, err, first)
	}
	want := first
	want.Repeat = true
	for range 3 {
		if f, err := d.Decode(repeat); err != nil || f != want {
			t.Fatalf("repeat = %v, %v; want %v", f, err, want)
		}
	}

	// A failed burst changes nothing.
	if _, err := d.Decode(repeat[:2]); !errors.Is(err, nec.ErrBadStart) {
		t.Fatalf("2-edge burst: %v, want ErrBadStart", err)
	}
	if f, err := d.Decode(repeat); err != nil || f != want {
		t.Fatalf("repeat after a bad burst = %v, %v; want %v", f, err, want)
	}

	// A 16-bit frame is refused by an 8-bit decoder and leaves the last frame.
	ext := nec.Frame{Address: 0x1234, Command: 0x42, Extended: true}
	if _, err := d.Decode(mustEncode(t, ext)); !errors.Is(err, nec.ErrBadAddress) {
		t.Fatalf("extended frame on an 8-bit decoder: %v, want ErrBadAddress", err)
	}
	if f, _ := d.Decode(repeat); f != want {
		t.Fatalf("repeat after a refused frame = %v; want %v", f, want)
	}

	// An extended decoder takes it, and its repeats carry it.
	d.Extended = true
	if f, err := d.Decode(mustEncode(t, ext)); err != nil || f != ext {
		t.Fatalf("extended frame = %v, %v; want %v", f, err, ext)
	}
	ext.Repeat = true
	if f, err := d.Decode(repeat); err != nil || f != ext {
		t.Fatalf("repeat of extended = %v, %v; want %v", f, err, ext)
	}

	d.Reset()
	if _, err := d.Decode(repeat); !errors.Is(err, nec.ErrBadRepeat) {
		t.Fatalf("repeat after Reset: %v, want ErrBadRepeat", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	frame := func() []time.Duration { return mustEncode(t, nec.Frame{Address: 0x04, Command: 0x08}) }
	repeat := func() []time.Duration { return mustEncode(t, nec.Frame{Repeat: true}) }
	withGap := func(edges []time.Duration, i int, d time.Duration) []time.Duration {
		g := gaps(edges)
		g[i] = d
		return fromGaps(edges[0], g)
	}
	// bits: address 0x04/0xfb, command 0x08/0xf7, with overrides.
	bits := func(addr, naddr, cmd, ncmd uint8) []time.Duration {
		return encodeBits(uint32(addr) | uint32(naddr)<<8 | uint32(cmd)<<16 | uint32(ncmd)<<24)
	}

	cases := []struct {
		name     string
		edges    []time.Duration
		extended bool
		kind     error
		msg      string // the whole message, or "" to check only the prefix
	}{
		{"one edge too many", append(frame(), frame()[67]+time.Millisecond), false, nec.ErrOverrun,
			"nec: overrun: 69 edges, a frame has 68"},
		{"two frames in one burst", append(frame(), fromGaps(100*time.Millisecond, gaps(frame()))...), false, nec.ErrOverrun, ""},
		{"no edges", nil, false, nec.ErrBadStart,
			"nec: bad start: 0 edges, want at least 3 (leader mark and space)"},
		{"one edge", frame()[:1], false, nec.ErrBadStart, ""},
		{"leader mark only", frame()[:2], false, nec.ErrBadStart,
			"nec: bad start: 2 edges, want at least 3 (leader mark and space)"},
		{"short leader mark", withGap(frame(), 0, 3100*time.Microsecond), false, nec.ErrBadStart,
			"nec: bad start: leader mark 3.1ms, want ≈9ms (more than 4ms)"},
		{"leader mark at the 4ms limit", withGap(frame(), 0, 4*time.Millisecond), false, nec.ErrBadStart, ""},
		{"backwards leader", withGap(frame(), 0, -9*time.Millisecond), false, nec.ErrBadStart,
			"nec: bad start: leader mark -9ms, want ≈9ms (more than 4ms)"},
		{"short leader space", withGap(frame(), 1, 1200*time.Microsecond), false, nec.ErrBadStart,
			"nec: bad start: leader space 1.2ms, want ≈4.5ms (frame) or ≈2.25ms (repeat code)"},
		{"leader space at the 1.7ms limit", withGap(repeat(), 1, 1700*time.Microsecond), false, nec.ErrBadStart, ""},
		{"truncated frame", frame()[:40], false, nec.ErrBadBlock,
			"nec: bad block: 40 edges after a 4.5ms frame leader space, want 68"},
		{"frame one edge short", frame()[:67], false, nec.ErrBadBlock, ""},
		{"edges out of order", withGap(frame(), 20, -time.Microsecond), false, nec.ErrBadBlock,
			"nec: bad block: edge 21 is -1µs after edge 20, want a positive gap"},
		{"repeated timestamp", withGap(frame(), 66, 0), false, nec.ErrBadBlock,
			"nec: bad block: edge 67 is 0s after edge 66, want a positive gap"},
		{"repeat with extra edges", append(repeat(), 12*time.Millisecond, 13*time.Millisecond), false, nec.ErrBadRepeat,
			"nec: bad repeat: 6 edges after a 2.25ms repeat leader space, want 4"},
		{"repeat without stop mark", repeat()[:3], false, nec.ErrBadRepeat, ""},
		{"leader space at the 3ms limit is a repeat", withGap(repeat(), 1, 3*time.Millisecond)[:3], false, nec.ErrBadRepeat, ""},
		{"command check byte", bits(0x04, 0xfb, 0x08, 0xf6), false, nec.ErrBadData,
			"nec: bad data: command 0x08 has check byte 0xf6, want 0xf7"},
		{"command check byte, extended", bits(0x34, 0x12, 0x08, 0x08), true, nec.ErrBadData, ""},
		{"both check bytes: data is checked first", bits(0x04, 0x04, 0x08, 0x08), false, nec.ErrBadData, ""},
		{"16-bit address not enabled", bits(0x34, 0x12, 0x08, 0xf7), false, nec.ErrBadAddress,
			"nec: bad address: address 0x34 has check byte 0x12, want 0xcb (or 16-bit address 0x1234, not accepted)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := nec.Decode(c.edges, c.extended)
			if err == nil {
				t.Fatalf("Decode = %v, want %v", f, c.kind)
			}
			if f != (nec.Frame{}) {
				t.Errorf("failed Decode returned frame %v, want the zero Frame", f)
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("Decode error %q is not %v", err, c.kind)
			}
			for _, k := range []error{nec.ErrBadStart, nec.ErrBadBlock, nec.ErrBadRepeat, nec.ErrOverrun, nec.ErrBadData, nec.ErrBadAddress} {
				if k != c.kind && errors.Is(err, k) {
					t.Errorf("Decode error %q also matches %v", err, k)
				}
			}
			var de *nec.DecodeError
			if !errors.As(err, &de) || de.Unwrap() != c.kind || de.Edges != len(c.edges) {
				t.Fatalf("Decode error %#v: want a *DecodeError of kind %v with %d edges", err, c.kind, len(c.edges))
			}
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("message\n got %q\nwant %q", err, c.msg)
			}
			if !strings.HasPrefix(err.Error(), c.kind.Error()+": ") {
				t.Errorf("message %q does not start with %q", err, c.kind.Error()+": ")
			}
		})
	}
}

func TestBitThreshold(t *testing.T) {
	// Command 0x00 with its check byte 0xff: bit 16 is a 0. Stretch its
	// space to just over and exactly at the 1.12 ms threshold.
	base := encodeBits(0xff00fb04)
	for _, c := range []struct {
		space time.Duration
		want  error // nil: decodes as command 0x00
	}{
		{1120 * time.Microsecond, nil},
		{1121 * time.Microsecond, nec.ErrBadData}, // bit 16 reads as 1: command 0x01, check 0xff
	} {
		g := gaps(base)
		g[2+2*16+1] = c.space
		f, err := nec.Decode(fromGaps(0, g), false)
		switch {
		case c.want == nil && (err != nil || f.Command != 0):
			t.Errorf("space %v: %v, %v; want command 0x00", c.space, f, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("space %v: %v, %v; want %v", c.space, f, err, c.want)
		}
	}
}

// TestJitter decodes frames and repeat codes whose every duration is off
// nominal by up to ±20 %, chosen by a seeded generator, plus the corners:
// all short, all long, alternating.
func TestJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(2018, 726))
	corners := []func(int) float64{
		func(int) float64 { return 0.8 },
		func(int) float64 { return 1.2 },
		func(i int) float64 { return 0.8 + 0.4*float64(i%2) },
		func(i int) float64 { return 1.2 - 0.4*float64(i%2) },
	}
	check := func(want nec.Frame, edges []time.Duration) {
		t.Helper()
		var d nec.Decoder
		d.Extended = want.Extended
		if want.Repeat {
			// Prime the decoder with the frame the repeat refers to.
			prime := want
			prime.Repeat = false
			if _, err := d.Decode(mustEncode(t, prime)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.Decode(edges)
		if err != nil || got != want {
			t.Fatalf("jittered %v: got %v, %v\ngaps %v", want, got, err, gaps(edges))
		}
	}
	for i := range 3000 {
		var want nec.Frame
		switch i % 3 {
		case 0:
			want = nec.Frame{Address: uint16(rng.IntN(256)), Command: uint8(rng.IntN(256))}
		case 1:
			want = nec.Frame{Address: uint16(rng.IntN(65536)), Command: uint8(rng.IntN(256)), Extended: true}
			if uint8(want.Address>>8) == ^uint8(want.Address) {
				want.Address ^= 0x0100 // not representable as extended
			}
		case 2:
			want = nec.Frame{Address: uint16(rng.IntN(256)), Command: uint8(rng.IntN(256)), Repeat: true}
		}
		edges := mustEncode(t, want)
		check(want, scaleGaps(edges, func(int) float64 { return 0.8 + 0.4*rng.Float64() }))
		if i < 30 {
			for _, scale := range corners {
				check(want, scaleGaps(edges, scale))
			}
		}
	}
}

func TestEncodeRefusesWhatDecodeCannotReturn(t *testing.T) {
	for _, c := range []struct {
		f   nec.Frame
		msg string
	}{
		{nec.Frame{Address: 0x100}, "nec: encode: address 0x0100 needs Extended (8-bit addresses are 0x00–0xff)"},
		{nec.Frame{Address: 0xfb04, Extended: true}, "nec: encode: extended address 0xfb04 has the low byte's complement as high byte, so it is 8-bit address 0x04 on the air"},
	} {
		edges, err := nec.Encode(c.f)
		if err == nil || err.Error() != c.msg {
			t.Errorf("Encode(%#v) = %d edges, %v; want error %q", c.f, len(edges), err, c.msg)
		}
	}
}

// Each decode error has its message, wire word and the seed's code, also
// when wrapped; other errors have neither.
func TestErrorNames(t *testing.T) {
	for _, c := range []struct {
		err  error
		msg  string
		name string
		code int
	}{
		{nec.ErrBadStart, "nec: bad start", "bad_start", -2},
		{nec.ErrBadBlock, "nec: bad block", "bad_block", -3},
		{nec.ErrBadRepeat, "nec: bad repeat", "bad_repeat", -4},
		{nec.ErrOverrun, "nec: overrun", "overrun", -5},
		{nec.ErrBadData, "nec: bad data", "bad_data", -6},
		{fmt.Errorf("wrapped: %w", nec.ErrBadAddress), "wrapped: nec: bad address", "bad_address", -7},
		{errors.New("other"), "other", "", 0},
	} {
		if c.err.Error() != c.msg || nec.ErrorName(c.err) != c.name || nec.ErrorCode(c.err) != c.code {
			t.Errorf("%v: %q, %q, %d; want %q, %q, %d", c.err, c.err.Error(), nec.ErrorName(c.err), nec.ErrorCode(c.err), c.msg, c.name, c.code)
		}
	}
}

func TestFrameString(t *testing.T) {
	for _, c := range []struct {
		f    nec.Frame
		want string
	}{
		{nec.Frame{Address: 4, Command: 8}, "address 0x04 command 0x08"},
		{nec.Frame{Address: 0x1234, Command: 0x42, Extended: true, Repeat: true}, "repeat of address 0x1234 (extended) command 0x42"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.f, got, c.want)
		}
	}
}
