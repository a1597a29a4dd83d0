package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// Record framing, little-endian:
//
//	frame   = bodyLen u32 | crc u32 | body        crc = CRC-32C(bodyLen bytes ‖ body)
//	message = 1 | seq u64 | queued unix-ns i64 | qos u8 | flags u8 | topicLen u16 | [maxAge ns i64] | topic | payload
//	          flags: 1 retain, 2 latest, 4 maxAge present
//	ack     = 2 | first seq u64 | count u32      (messages first … first+count-1 delivered)
//	drop    = 3 | first seq u64 | count u32      (evicted by DropOldest or unreadable)
//
// The CRC covers the length too, so a flipped length bit is caught even when
// the new length happens to fit in the file.
const (
	frameHeaderLen = 8
	kindMessage    = 1
	kindAck        = 2
	kindDrop       = 3
	messageFixed   = 1 + 8 + 8 + 1 + 1 + 2
	markBodyLen    = 1 + 8 + 4

	flagRetain = 1
	flagLatest = 2
	flagMaxAge = 4
	flagsKnown = flagRetain | flagLatest | flagMaxAge
	maxAgeLen  = 8

	// MaxTopicLen is the longest topic MQTT can carry.
	MaxTopicLen = 65535
	// MaxPayloadLen is the largest payload MQTT's remaining-length field
	// can announce; the outbox accepts no more.
	MaxPayloadLen = 268435455

	maxBodyLen = messageFixed + MaxTopicLen + MaxPayloadLen
)

// Segment header: magic | first sequence number the segment may hold | CRC-32C.
const segHeaderLen = 8 + 8 + 4

const segMagic = "EAOUTBX\x01"

// Checkpoint: magic | head u64 | next u64 | n u32 | n × acked seq u64 | CRC-32C.
const cpMagic = "EAOBCKP\x01"

func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) } // cached by the stdlib

// record is one decoded log record. topic and payload alias the input.
type record struct {
	kind    byte
	seq     uint64 // message seq, or first seq of an ack/drop
	count   uint32 // ack/drop only
	queued  int64
	qos     byte
	retain  bool
	latest  bool
	maxAge  int64 // nanoseconds; 0: none
	topic   []byte
	payload []byte
}

// messageRecordSize is the framed size of a message record on disk; the
// outbox's byte bound counts these.
func messageRecordSize(topicLen, payloadLen int, maxAge bool) int64 {
	n := int64(frameHeaderLen + messageFixed + topicLen + payloadLen)
	if maxAge {
		n += maxAgeLen
	}
	return n
}

func appendFrame(dst []byte, bodyLen int, writeBody func(b []byte)) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen+bodyLen)...)
	fr := dst[start:]
	binary.LittleEndian.PutUint32(fr[0:4], uint32(bodyLen))
	writeBody(fr[frameHeaderLen:])
	tab := crcTable()
	c := crc32.Update(0, tab, fr[0:4])
	c = crc32.Update(c, tab, fr[frameHeaderLen:])
	binary.LittleEndian.PutUint32(fr[4:8], c)
	return dst
}

func appendMessage(dst []byte, seq uint64, queued int64, m *Message) []byte {
	fixed := messageFixed
	var flags byte
	if m.Retain {
		flags |= flagRetain
	}
	if m.Latest {
		flags |= flagLatest
	}
	if m.MaxAge > 0 {
		flags |= flagMaxAge
		fixed += maxAgeLen
	}
	return appendFrame(dst, fixed+len(m.Topic)+len(m.Payload), func(b []byte) {
		b[0] = kindMessage
		binary.LittleEndian.PutUint64(b[1:9], seq)
		binary.LittleEndian.PutUint64(b[9:17], uint64(queued))
		b[17] = m.QoS
		b[18] = flags
		binary.LittleEndian.PutUint16(b[19:21], uint16(len(m.Topic)))
		if m.MaxAge > 0 {
			binary.LittleEndian.PutUint64(b[messageFixed:], uint64(m.MaxAge))
		}
		n := copy(b[fixed:], m.Topic)
		copy(b[fixed+n:], m.Payload)
	})
}

func appendMark(dst []byte, kind byte, first uint64, count uint32) []byte {
	return appendFrame(dst, markBodyLen, func(b []byte) {
		b[0] = kind
		binary.LittleEndian.PutUint64(b[1:9], first)
		binary.LittleEndian.PutUint32(b[9:13], count)
	})
}

// Decoding errors. errTruncated means the data ends inside the record; the
// others mean the bytes are not a record.
var (
	errTruncated = errors.New("record runs past the end of the file")
	errBadCRC    = errors.New("checksum mismatch")
)

// decodeFrame decodes the record at the start of b and returns it with its
// framed size. It never panics, whatever b holds.
func decodeFrame(b []byte) (record, int, error) {
	if len(b) < frameHeaderLen {
		return record{}, 0, errTruncated
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n == 0 || n > maxBodyLen {
		return record{}, 0, fmt.Errorf("impossible record length %d", n)
	}
	if uint64(len(b)-frameHeaderLen) < uint64(n) {
		return record{}, 0, errTruncated
	}
	body := b[frameHeaderLen : frameHeaderLen+int(n)]
	tab := crcTable()
	c := crc32.Update(0, tab, b[0:4])
	c = crc32.Update(c, tab, body)
	if c != binary.LittleEndian.Uint32(b[4:8]) {
		return record{}, 0, errBadCRC
	}
	r, err := decodeBody(body)
	if err != nil {
		return record{}, 0, err
	}
	return r, frameHeaderLen + int(n), nil
}

func decodeBody(body []byte) (record, error) {
	r := record{kind: body[0]}
	switch r.kind {
	case kindMessage:
		if len(body) < messageFixed {
			return record{}, fmt.Errorf("message record of %d bytes is shorter than its fixed part", len(body))
		}
		r.seq = binary.LittleEndian.Uint64(body[1:9])
		r.queued = int64(binary.LittleEndian.Uint64(body[9:17]))
		r.qos = body[17]
		flags := body[18]
		tl := int(binary.LittleEndian.Uint16(body[19:21]))
		fixed := messageFixed
		if flags&flagMaxAge != 0 {
			fixed += maxAgeLen
		}
		switch {
		case r.seq == 0:
			return record{}, errors.New("message with sequence number 0")
		case r.qos > 2:
			return record{}, fmt.Errorf("message with QoS %d", r.qos)
		case flags&^flagsKnown != 0:
			return record{}, fmt.Errorf("message with unknown flags %#x", flags)
		case tl == 0 || fixed+tl > len(body):
			return record{}, fmt.Errorf("message topic length %d does not fit its record", tl)
		}
		r.retain = flags&flagRetain != 0
		r.latest = flags&flagLatest != 0
		if flags&flagMaxAge != 0 {
			r.maxAge = int64(binary.LittleEndian.Uint64(body[messageFixed:]))
			if r.maxAge <= 0 {
				return record{}, fmt.Errorf("message with maximum age %d ns", r.maxAge)
			}
		}
		r.topic = body[fixed : fixed+tl]
		r.payload = body[fixed+tl:]
		if len(r.payload) > MaxPayloadLen {
			return record{}, fmt.Errorf("message payload of %d bytes", len(r.payload))
		}
	case kindAck, kindDrop:
		if len(body) != markBodyLen {
			return record{}, fmt.Errorf("ack record of %d bytes, want %d", len(body), markBodyLen)
		}
		r.seq = binary.LittleEndian.Uint64(body[1:9])
		r.count = binary.LittleEndian.Uint32(body[9:13])
		if r.seq == 0 || r.count == 0 || r.seq+uint64(r.count) < r.seq {
			return record{}, fmt.Errorf("ack record for %d messages from %d", r.count, r.seq)
		}
	default:
		return record{}, fmt.Errorf("unknown record kind %d", r.kind)
	}
	return r, nil
}

func appendSegHeader(dst []byte, firstSeq uint64) []byte {
	start := len(dst)
	dst = append(dst, segMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, firstSeq)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable()))
}

func decodeSegHeader(b []byte) (uint64, error) {
	if len(b) < segHeaderLen {
		return 0, errTruncated
	}
	if string(b[:8]) != segMagic {
		return 0, errors.New("not an outbox segment (bad magic)")
	}
	if crc32.Checksum(b[:16], crcTable()) != binary.LittleEndian.Uint32(b[16:20]) {
		return 0, fmt.Errorf("segment header: %w", errBadCRC)
	}
	return binary.LittleEndian.Uint64(b[8:16]), nil
}

// scanResult describes one segment's bytes.
type scanResult struct {
	firstSeq uint64 // from the header; 0 when the header is unusable
	valid    int    // length of the good prefix (header and whole records)
	err      error  // why the record at valid is bad; nil when the data is clean
	torn     bool   // err set, and no valid record follows: a half-written tail
}

// scanSegment walks a segment's bytes, calling fn for every good record in
// order. It stops at the first bad record and classifies the damage: when
// some valid record can still be found after it, the segment was damaged in
// the middle; otherwise the bad bytes are a torn tail.
func scanSegment(data []byte, fn func(r record, off, size int)) scanResult {
	var res scanResult
	first, err := decodeSegHeader(data)
	if err != nil {
		// A short or zero-filled header is a segment whose creation the
		// crash interrupted; a full header that is wrong is damage.
		res.err = err
		res.torn = len(data) < segHeaderLen || allZero(data)
		return res
	}
	res.firstSeq = first
	off := segHeaderLen
	for off < len(data) {
		r, n, err := decodeFrame(data[off:])
		if err != nil {
			res.valid, res.err = off, err
			res.torn = !validFrameFrom(data, off+1)
			return res
		}
		fn(r, off, n)
		off += n
	}
	res.valid = off
	return res
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// validFrameFrom reports whether a valid record starts anywhere at or
// after from — or, if looking would cost too much, says yes: calling damage
// a torn tail would hide it, calling a torn tail damage only reports and
// saves it.
func validFrameFrom(data []byte, from int) bool {
	found := false
	complete := scanFrames(data, from, func(record) bool { found = true; return false })
	return found || !complete
}

// maxSeqFrom returns the highest sequence number in any valid record found
// at or after from; 0 if there is none.
func maxSeqFrom(data []byte, from int) uint64 {
	var top uint64
	scanFrames(data, from, func(r record) bool {
		top = max(top, r.seq+uint64(max(r.count, 1))-1)
		return true
	})
	return top
}

// resyncBudget caps the bytes scanFrames checksums: garbage crafted so that
// every offset looks like the start of a long record would otherwise cost
// time quadratic in the file size.
const resyncBudget = 32 << 20

// scanFrames calls fn for every valid record starting at any offset at or
// after from, until fn returns false. It reports false if it gave up
// because the budget ran out. Random bytes rarely pass the cheap checks on
// length and kind, so this costs about one pass over the data.
func scanFrames(data []byte, from int, fn func(record) bool) bool {
	budget := resyncBudget
	for p := from; p+frameHeaderLen+markBodyLen <= len(data); p++ {
		n := int(binary.LittleEndian.Uint32(data[p : p+4]))
		if n < markBodyLen || n > len(data)-p-frameHeaderLen {
			continue
		}
		switch data[p+frameHeaderLen] {
		case kindAck, kindDrop:
			if n != markBodyLen {
				continue
			}
		case kindMessage:
			if n <= messageFixed {
				continue
			}
		default:
			continue
		}
		if budget -= n; budget < 0 {
			return false
		}
		if r, _, err := decodeFrame(data[p:]); err == nil && !fn(r) {
			return true
		}
	}
	return true
}

// checkpoint is the delivery state at one moment: of the sequence numbers
// below next, exactly those in pending are still to deliver; the rest were
// acknowledged or dropped. Listing what is pending rather than what is done
// keeps it short (the pending set is bounded, the done set is not) and makes
// it complete on its own.
type checkpoint struct {
	next    uint64
	pending []span // sorted, disjoint, non-adjacent, within [1, next)
}

// span is a half-open range of sequence numbers.
type span struct{ from, to uint64 }

func encodeCheckpoint(cp checkpoint) []byte {
	b := make([]byte, 0, len(cpMagic)+8+4+16*len(cp.pending)+4)
	b = append(b, cpMagic...)
	b = binary.LittleEndian.AppendUint64(b, cp.next)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cp.pending)))
	for _, sp := range cp.pending {
		b = binary.LittleEndian.AppendUint64(b, sp.from)
		b = binary.LittleEndian.AppendUint64(b, sp.to)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable()))
}

func decodeCheckpoint(b []byte) (checkpoint, error) {
	const fixed = len(cpMagic) + 8 + 4
	if len(b) < fixed+4 {
		return checkpoint{}, fmt.Errorf("%d bytes, shorter than a checkpoint", len(b))
	}
	if string(b[:len(cpMagic)]) != cpMagic {
		return checkpoint{}, errors.New("not an outbox checkpoint (bad magic)")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable()) != sum {
		return checkpoint{}, fmt.Errorf("checkpoint: %w", errBadCRC)
	}
	cp := checkpoint{next: binary.LittleEndian.Uint64(body[8:16])}
	n := binary.LittleEndian.Uint32(body[16:20])
	if uint64(len(body)-fixed) != 16*uint64(n) {
		return checkpoint{}, fmt.Errorf("checkpoint lists %d ranges in %d bytes", n, len(body)-fixed)
	}
	if cp.next == 0 {
		return checkpoint{}, errors.New("checkpoint with next sequence number 0")
	}
	prev := uint64(0)
	for i := range int(n) {
		sp := span{binary.LittleEndian.Uint64(body[fixed+16*i:]), binary.LittleEndian.Uint64(body[fixed+16*i+8:])}
		if sp.from <= prev || sp.to <= sp.from || sp.to > cp.next {
			return checkpoint{}, fmt.Errorf("checkpoint range [%d, %d) out of order or outside [1, %d)", sp.from, sp.to, cp.next)
		}
		cp.pending = append(cp.pending, sp)
		prev = sp.to
	}
	return cp, nil
}

// validateMessage checks what Append is given against MQTT's rules for a
// PUBLISH, so that a bad message is refused before it reaches the disk.
func validateMessage(topic string, payloadLen int, qos byte) error {
	switch {
	case topic == "":
		return errors.New("empty topic")
	case len(topic) > MaxTopicLen:
		return fmt.Errorf("topic of %d bytes (MQTT allows %d)", len(topic), MaxTopicLen)
	case !utf8.ValidString(topic):
		return fmt.Errorf("topic %q is not valid UTF-8", topic)
	case payloadLen > MaxPayloadLen:
		return fmt.Errorf("payload of %d bytes (MQTT allows %d)", payloadLen, MaxPayloadLen)
	case qos > 2:
		return fmt.Errorf("QoS %d (want 0, 1 or 2)", qos)
	}
	for i := 0; i < len(topic); i++ {
		switch topic[i] {
		case 0:
			return fmt.Errorf("topic %q contains NUL at byte %d", topic, i)
		case '+', '#':
			return fmt.Errorf("topic %q contains wildcard %q at byte %d (not allowed in a publish)", topic, topic[i], i)
		}
	}
	return nil
}
