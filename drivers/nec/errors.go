package nec

import (
	"fmt"
	"time"
)

// Kind classifies a failed burst. The Kind constants are themselves errors,
// so errors.Is(err, nec.ErrBadStart) matches any *DecodeError of that kind.
type Kind uint8

// The kinds of decode failure, one per error code of the seed's aremote.py.
const (
	// ErrBadStart: no valid leader — too few edges, a leader mark of 4 ms or
	// less, or a leader space of 1.7 ms or less. Usually noise or a remote
	// using another protocol.
	ErrBadStart Kind = iota + 1
	// ErrBadBlock: a data-frame leader followed by other than 68 edges, or
	// edges out of order.
	ErrBadBlock
	// ErrBadRepeat: a repeat-code leader followed by other than 4 edges, or a
	// repeat code with no frame before it (Decoder only).
	ErrBadRepeat
	// ErrOverrun: more edges than any frame has.
	ErrOverrun
	// ErrBadData: the command check byte is not the command's complement.
	ErrBadData
	// ErrBadAddress: the address check byte is not the address's complement
	// and 16-bit addresses are not accepted.
	ErrBadAddress
)

// Error returns "nec: " and the kind's name, e.g. "nec: bad start".
func (k Kind) Error() string {
	switch k {
	case ErrBadStart:
		return "nec: bad start"
	case ErrBadBlock:
		return "nec: bad block"
	case ErrBadRepeat:
		return "nec: bad repeat"
	case ErrOverrun:
		return "nec: overrun"
	case ErrBadData:
		return "nec: bad data"
	case ErrBadAddress:
		return "nec: bad address"
	}
	return fmt.Sprintf("nec: error kind %d", uint8(k))
}

// Code returns the seed's numeric result code for the kind (BADSTART = -2 …
// BADADDR = -7), for logs and payloads that mirror aremote.py; 0 for an
// unknown kind.
func (k Kind) Code() int {
	if k < ErrBadStart || k > ErrBadAddress {
		return 0
	}
	return -1 - int(k)
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
type DecodeError struct {
	Kind  Kind // the kind of failure
	Edges int  // number of edges in the burst

	what     what
	measured time.Duration
	index    int
	got      uint8
	check    uint8
}

// Unwrap returns the Kind, so errors.Is matches it.
func (e *DecodeError) Unwrap() error { return e.Kind }

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
		if e.Kind == ErrBadAddress {
			name = "address"
		}
		detail = fmt.Sprintf("%s 0x%02x has check byte 0x%02x, want 0x%02x", name, e.got, e.check, ^e.got)
		if e.Kind == ErrBadAddress {
			detail += fmt.Sprintf(" (or 16-bit address 0x%04x, not accepted)", uint16(e.check)<<8|uint16(e.got))
		}
	case whatOrphanRepeat:
		detail = "repeat code with no frame before it"
	case 0:
		if e.Kind == ErrOverrun {
			detail = fmt.Sprintf("%d edges, a frame has %d", e.Edges, FrameEdges)
		} else {
			detail = fmt.Sprintf("%d edges", e.Edges)
		}
	}
	return e.Kind.Error() + ": " + detail
}
