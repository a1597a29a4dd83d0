// Package nec decodes and synthesises NEC infra-red remote-control bursts: the
// protocol of most cheap remotes, and of the seed's aremote.py receiver.
//
// A burst is the list of edge times a GPIO edge watcher records after the first
// edge of a transmission: a []time.Duration of monotonic timestamps, one per
// level change, from any origin (only differences matter). A data frame is 68
// edges (a 9 ms leader mark, a 4.5 ms space, 32 bits of a 562.5 µs mark and a
// 562.5 µs or 1.6875 ms space, a stop mark); a repeat code, sent every 108 ms
// while a key is held, is 4 edges (9 ms mark, 2.25 ms space, a stop mark).
//
// Decode is a pure function from a burst to a Frame or a *DecodeError
// wrapping one of the seed's error codes (ErrBadStart …). Decoder adds the one piece of state
// the protocol needs: a repeat code names no key, so it carries the last valid
// frame's address and command. Encode synthesises bursts for tests and
// simulated remotes.
//
// Receiver is the driver on the loop: fed by package gpioin, whose goroutine
// stamps each edge of the pin, it waits BlockWait (or ExtendedBlockWait) from
// a burst's first edge, decodes the burst with a Decoder, and delivers frames,
// repeats and decode errors, as values, to its queue (Events). Decode, Decoder and
// Encode remain pure: they only interpret timestamps.
//
// Decision thresholds are the seed's: a leader mark must exceed 4 ms; a
// leader space over 3 ms starts a data frame, 1.7–3 ms a repeat; a bit space
// over 1.12 ms is a one. They accept every duration within ±20 % of nominal
// (the tightest margin is the repeat space: −24 %, +33 %).
package nec

import (
	"fmt"
	"time"
)

// Nominal NEC timings, used by Encode; Decode judges durations by the
// thresholds in the package comment, not by these values.
const (
	LeaderMark  = 9 * time.Millisecond    // mark that starts every burst
	LeaderSpace = 4500 * time.Microsecond // space after the leader of a data frame
	RepeatSpace = 2250 * time.Microsecond // space after the leader of a repeat code
	BitMark     = 562500 * time.Nanosecond
	ZeroSpace   = 562500 * time.Nanosecond // space after a bit mark: a 0
	OneSpace    = 1687500 * time.Nanosecond
)

// Burst sizes and capture timing, for the receiver that collects edges.
const (
	// FrameEdges is the number of edges in a data frame.
	FrameEdges = 68
	// RepeatEdges is the number of edges in a repeat code.
	RepeatEdges = 4
	// CaptureEdges is the capture buffer a receiver needs: one edge more than
	// a frame, so that an overrun is seen instead of silently cut off.
	CaptureEdges = FrameEdges + 1
	// BlockWait is how long after the first edge a receiver waits before
	// decoding: a frame with an 8-bit address lasts 67.5 ms to its stop
	// mark (its check bytes make exactly 16 of its 32 bits ones).
	BlockWait = 73 * time.Millisecond
	// ExtendedBlockWait replaces BlockWait when 16-bit addresses are
	// accepted: their address bytes are not complements, so a frame can
	// carry more ones and last up to 76.5 ms.
	ExtendedBlockWait = 80 * time.Millisecond
	// RepeatPeriod is the time from one burst's start to the next repeat
	// code's while a key is held.
	RepeatPeriod = 108 * time.Millisecond
)

// Decision thresholds (the seed's).
const (
	minLeaderMark  = 4 * time.Millisecond    // a leader mark must be longer
	minBlockSpace  = 3 * time.Millisecond    // a longer leader space: data frame
	minRepeatSpace = 1700 * time.Microsecond // a longer one (up to 3 ms): repeat
	minOneSpace    = 1120 * time.Microsecond // a longer bit space: a 1
)

// Frame is one decoded key press.
type Frame struct {
	// Address identifies the remote: 0–255, or 0–65535 when Extended.
	Address uint16
	// Command identifies the key.
	Command uint8
	// Extended reports a 16-bit address: its second byte is not the first
	// byte's complement. Decode accepts it only when asked to.
	Extended bool
	// Repeat reports a repeat code: the key of the previous frame is still
	// held. Decode leaves Address and Command zero; Decoder fills them in.
	Repeat bool
}

// String describes the frame, e.g. "address 0x04 command 0x08" or
// "repeat of address 0x1234 (extended) command 0x42".
func (f Frame) String() string {
	prefix := ""
	if f.Repeat {
		prefix = "repeat of "
	}
	if f.Extended {
		return fmt.Sprintf("%saddress 0x%04x (extended) command 0x%02x", prefix, f.Address, f.Command)
	}
	return fmt.Sprintf("%saddress 0x%02x command 0x%02x", prefix, f.Address, f.Command)
}

// Decode interprets one burst of edge times (see the package comment) as a
// data frame or a repeat code. extended allows 16-bit addresses; without it a
// frame whose address bytes are not complements is ErrBadAddress.
//
// Checks run in the seed's order: edge count (ErrOverrun), leader mark and
// space (ErrBadStart), then for a data frame its edge count and order
// (ErrBadBlock), the command check byte (ErrBadData) and the address check
// byte (ErrBadAddress); for a repeat code its edge count (ErrBadRepeat).
// Every failure is a *DecodeError, matched with errors.Is(err, ErrBadStart)
// and so on. Decode does not allocate unless it fails.
func Decode(edges []time.Duration, extended bool) (Frame, error) {
	n := len(edges)
	if n > FrameEdges {
		return Frame{}, &DecodeError{kind: kindOverrun, Edges: n}
	}
	if n < 3 {
		return Frame{}, &DecodeError{kind: kindBadStart, Edges: n, what: whatTooFew}
	}
	if mark := edges[1] - edges[0]; mark <= minLeaderMark {
		return Frame{}, &DecodeError{kind: kindBadStart, Edges: n, what: whatLeaderMark, measured: mark}
	}
	space := edges[2] - edges[1]
	switch {
	case space > minBlockSpace:
		if n != FrameEdges {
			return Frame{}, &DecodeError{kind: kindBadBlock, Edges: n, what: whatBlockEdges, measured: space}
		}
		return decodeBits(edges, extended)
	case space > minRepeatSpace:
		if n != RepeatEdges {
			return Frame{}, &DecodeError{kind: kindBadRepeat, Edges: n, what: whatRepeatEdges, measured: space}
		}
		return Frame{Repeat: true}, nil
	default:
		return Frame{}, &DecodeError{kind: kindBadStart, Edges: n, what: whatLeaderSpace, measured: space}
	}
}

// decodeBits reads the 32 bits of a 68-edge frame, LSB first, and checks
// them. Bit i is the mark from edge 2+2i to 3+2i and the space to 4+2i.
func decodeBits(edges []time.Duration, extended bool) (Frame, error) {
	edges = edges[:FrameEdges] // one bounds check instead of 64
	for i := 3; i < FrameEdges; i++ {
		if edges[i] <= edges[i-1] {
			return Frame{}, &DecodeError{kind: kindBadBlock, Edges: FrameEdges, what: whatOrder, index: uint8(i), measured: edges[i] - edges[i-1]}
		}
	}
	var v uint32
	for i := range 32 {
		if edges[4+2*i]-edges[3+2*i] > minOneSpace {
			v |= 1 << i
		}
	}
	addr, naddr := uint8(v), uint8(v>>8)
	cmd, ncmd := uint8(v>>16), uint8(v>>24)
	if ncmd != ^cmd {
		return Frame{}, &DecodeError{kind: kindBadData, Edges: FrameEdges, what: whatCheck, got: cmd, check: ncmd}
	}
	if naddr == ^addr {
		return Frame{Address: uint16(addr), Command: cmd}, nil
	}
	if !extended {
		return Frame{}, &DecodeError{kind: kindBadAddress, Edges: FrameEdges, what: whatCheck, got: addr, check: naddr}
	}
	return Frame{Address: uint16(v), Command: cmd, Extended: true}, nil
}

// Decoder decodes successive bursts from one receiver, remembering the last
// valid frame so that a repeat code can say which key is held. The zero
// value accepts 8-bit addresses only. A Decoder is not safe for concurrent
// use; one receiver task owns it.
type Decoder struct {
	// Extended accepts 16-bit addresses (see Decode).
	Extended bool

	last     Frame
	haveLast bool
}

// Decode decodes a burst like the function Decode. A repeat code comes back
// as the last valid frame with Repeat set, or as ErrBadRepeat if no frame has
// been decoded since the Decoder was made or Reset. Failed bursts do not
// change what a later repeat code refers to (the seed's behaviour).
func (d *Decoder) Decode(edges []time.Duration) (Frame, error) {
	f, err := Decode(edges, d.Extended)
	switch {
	case err != nil:
		return Frame{}, err
	case f.Repeat && !d.haveLast:
		return Frame{}, &DecodeError{kind: kindBadRepeat, Edges: len(edges), what: whatOrphanRepeat}
	case f.Repeat:
		f = d.last
		f.Repeat = true
		return f, nil
	default:
		d.last, d.haveLast = f, true
		return f, nil
	}
}

// Reset forgets the last frame, e.g. when a receiver has seen no burst for
// longer than RepeatPeriod and a stray repeat code must not re-fire a key.
func (d *Decoder) Reset() {
	d.last, d.haveLast = Frame{}, false
}

// Encode synthesises the edge times of a frame, starting at 0: a repeat code
// when f.Repeat is set (Address and Command are then ignored), else a data
// frame. It fails when Decode could not give f back: an address above 0xff
// without Extended, or an Extended address whose high byte is the low byte's
// complement (that is an 8-bit address on the air).
func Encode(f Frame) ([]time.Duration, error) {
	if f.Repeat {
		return appendEdges(make([]time.Duration, 0, RepeatEdges), LeaderMark, RepeatSpace, BitMark), nil
	}
	lo, hi := uint8(f.Address), uint8(f.Address>>8)
	switch {
	case !f.Extended && f.Address > 0xff:
		return nil, fmt.Errorf("nec: encode: address 0x%04x needs Extended (8-bit addresses are 0x00–0xff)", f.Address)
	case f.Extended && hi == ^lo:
		return nil, fmt.Errorf("nec: encode: extended address 0x%04x has the low byte's complement as high byte, so it is 8-bit address 0x%02x on the air", f.Address, lo)
	case !f.Extended:
		hi = ^lo
	}
	v := uint32(lo) | uint32(hi)<<8 | uint32(f.Command)<<16 | uint32(^f.Command)<<24
	edges := appendEdges(make([]time.Duration, 0, FrameEdges), LeaderMark, LeaderSpace)
	for i := range 32 {
		space := ZeroSpace
		if v&(1<<i) != 0 {
			space = OneSpace
		}
		edges = appendEdges(edges, BitMark, space)
	}
	return appendEdges(edges, BitMark), nil
}

// appendEdges appends edges separated by the given durations, starting a new
// burst at 0 when edges is empty.
func appendEdges(edges []time.Duration, durations ...time.Duration) []time.Duration {
	var t time.Duration
	if len(edges) == 0 {
		edges = append(edges, 0)
	} else {
		t = edges[len(edges)-1]
	}
	for _, d := range durations {
		t += d
		edges = append(edges, t)
	}
	return edges
}
