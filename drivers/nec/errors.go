package nec

import (
	"errors"
	"fmt"
	"time"
)

// The errors of a failed burst, one per error code of the seed's
// aremote.py. A *DecodeError wraps one: errors.Is(err, nec.ErrBadStart).
var (
	// ErrBadStart: no valid leader — too few edges, a leader mark of 4 ms or
	// less, or a leader space of 1.7 ms or less. Usually noise or a remote
	// using another protocol.
	ErrBadStart = errors.New("nec: bad start")
	// ErrBadBlock: a data-frame leader followed by other than 68 edges, or
	// edges out of order.
	ErrBadBlock = errors.New("nec: bad block")
	// ErrBadRepeat: a repeat-code leader followed by other than 4 edges, or a
	// repeat code with no frame before it (Decoder only).
	ErrBadRepeat = errors.New("nec: bad repeat")
	// ErrOverrun: more edges than any frame has.
	ErrOverrun = errors.New("nec: overrun")
	// ErrBadData: the command check byte is not the command's complement.
	ErrBadData = errors.New("nec: bad data")
	// ErrBadAddress: the address check byte is not the address's complement
	// and 16-bit addresses are not accepted.
	ErrBadAddress = errors.New("nec: bad address")
)

// A kind is a decode error's kind: an index into kinds. DecodeError keeps
// it instead of the sentinel so that it holds no pointer: the allocator
// then neither zeroes nor scans it, and Decode's failure path stays cheap.
type kind uint8

const (
	kindBadStart kind = iota
	kindBadBlock
	kindBadRepeat
	kindOverrun
	kindBadData
	kindBadAddress
)

// kinds gives each kind its sentinel, wire word and the seed's result
// code (BADSTART = -2 … BADADDR = -7).
var kinds = [...]struct {
	err  error
	name string
	code int
}{
	kindBadStart:   {ErrBadStart, "bad_start", -2},
	kindBadBlock:   {ErrBadBlock, "bad_block", -3},
	kindBadRepeat:  {ErrBadRepeat, "bad_repeat", -4},
	kindOverrun:    {ErrOverrun, "overrun", -5},
	kindBadData:    {ErrBadData, "bad_data", -6},
	kindBadAddress: {ErrBadAddress, "bad_address", -7},
}

// ErrorName returns the wire word of a decode error — "bad_start",
// "bad_block", "bad_repeat", "overrun", "bad_data", "bad_address" — for
// err or anything wrapping one; "" for another error.
func ErrorName(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}

// ErrorCode returns the seed's numeric result code of a decode error
// (BADSTART = -2 … BADADDR = -7), for logs and payloads that mirror
// aremote.py; 0 for another error.
func ErrorCode(err error) int {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.code
		}
	}
	return 0
}

// What a DecodeError measured; selects the message.
type what uint8

const (
	whatTooFew       what = iota + 1 // fewer than 3 edges
	whatLeaderMark                   // measured = leader mark
	whatLeaderSpace                  // measured = leader space
	whatBlockEdges                   // wrong edge count after a frame leader; measured = leader space
	whatRepeatEdges                  // wrong edge count after a repeat leader; measured = leader space
	whatOrder                        // edge index not after index-1; measured = the difference
	whatCheck                        // got and check: a byte and its check byte
	whatOrphanRepeat                 // repeat with no earlier frame
)

// DecodeError is the error Decode and Decoder.Decode return: what kind of
// failure, and what was measured. Its message says both, e.g.
// "nec: bad start: leader mark 3.1ms, want ≈9ms (more than 4ms)".
//
// Match its kind with errors.Is(err, nec.ErrBadStart) and so on (Unwrap
// returns the sentinel).
type DecodeError struct {
	Edges int // number of edges in the burst

	// No pointers (see kind), small fields last: one small allocation.
	measured time.Duration
	kind     kind
	index    uint8 // an edge of a 68-edge frame
	what     what
	got      uint8
	check    uint8
}

// Unwrap returns the kind of failure, so errors.Is matches it.
func (e *DecodeError) Unwrap() error { return kinds[e.kind].err }

func (e *DecodeError) Error() string {
	var detail string
	switch e.what {
	case whatTooFew:
		detail = fmt.Sprintf("%d edges, want at least 3 (leader mark and space)", e.Edges)
	case whatLeaderMark:
		detail = fmt.Sprintf("leader mark %v, want ≈%v (more than %v)", e.measured, LeaderMark, minLeaderMark)
	case whatLeaderSpace:
		detail = fmt.Sprintf("leader space %v, want ≈%v (frame) or ≈%v (repeat code)", e.measured, LeaderSpace, RepeatSpace)
	case whatBlockEdges:
		detail = fmt.Sprintf("%d edges after a %v frame leader space, want %d", e.Edges, e.measured, FrameEdges)
	case whatRepeatEdges:
		detail = fmt.Sprintf("%d edges after a %v repeat leader space, want %d", e.Edges, e.measured, RepeatEdges)
	case whatOrder:
		detail = fmt.Sprintf("edge %d is %v after edge %d, want a positive gap", e.index, e.measured, e.index-1)
	case whatCheck:
		name := "command"
		if e.kind == kindBadAddress {
			name = "address"
		}
		detail = fmt.Sprintf("%s 0x%02x has check byte 0x%02x, want 0x%02x", name, e.got, e.check, ^e.got)
		if e.kind == kindBadAddress {
			detail += fmt.Sprintf(" (or 16-bit address 0x%04x, not accepted)", uint16(e.check)<<8|uint16(e.got))
		}
	case whatOrphanRepeat:
		detail = "repeat code with no frame before it"
	case 0:
		if e.kind == kindOverrun {
			detail = fmt.Sprintf("%d edges, a frame has %d", e.Edges, FrameEdges)
		} else {
			detail = fmt.Sprintf("%d edges", e.Edges)
		}
	}
	return kinds[e.kind].err.Error() + ": " + detail
}
