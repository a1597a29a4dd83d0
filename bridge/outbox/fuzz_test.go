package outbox

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// sampleSegment is a small valid segment: header, messages, an ack, a drop.
func sampleSegment() []byte {
	b := appendSegHeader(nil, 1)
	b = appendMessage(b, 1, 1000, &Message{Topic: "a/b", Payload: []byte("hello"), QoS: 1})
	b = appendMessage(b, 2, 2000, &Message{Topic: "c", QoS: 2, Retain: true})
	b = appendMark(b, kindAck, 1, 1)
	b = appendMessage(b, 3, 3000, &Message{Topic: "d/e/f", Payload: bytes.Repeat([]byte{7}, 40), QoS: 0})
	b = appendMessage(b, 4, 4000, &Message{Topic: "s", Payload: []byte("21.5"), QoS: 1, Retain: true, Latest: true})
	b = appendMessage(b, 5, 5000, &Message{Topic: "e", Payload: []byte("press"), QoS: 1, MaxAge: time.Minute})
	return appendMark(b, kindDrop, 2, 1)
}

func FuzzDecodeFrame(f *testing.F) {
	seg := sampleSegment()
	f.Add(seg[segHeaderLen:])
	f.Add(seg[segHeaderLen : segHeaderLen+10])
	f.Add(appendMark(nil, kindAck, 5, 3))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := decodeFrame(data)
		if err != nil {
			return
		}
		if n < frameHeaderLen || n > len(data) {
			t.Fatalf("decoded size %d from %d bytes", n, len(data))
		}
		var again []byte
		switch r.kind {
		case kindMessage:
			again = appendMessage(nil, r.seq, r.queued, &Message{
				Topic: string(r.topic), Payload: r.payload, QoS: r.qos, Retain: r.retain, Latest: r.latest, MaxAge: time.Duration(r.maxAge),
			})
		default:
			again = appendMark(nil, r.kind, r.seq, r.count)
		}
		if !bytes.Equal(again, data[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, data[:n])
		}
	})
}

func FuzzScanSegment(f *testing.F) {
	seg := sampleSegment()
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(seg[:7])
	bad := bytes.Clone(seg)
	bad[40] ^= 1
	f.Add(bad)
	f.Add(append(bytes.Clone(seg), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		last := segHeaderLen
		res := scanSegment(data, func(r record, off, size int) {
			if off != last || size <= 0 || off+size > len(data) {
				t.Fatalf("record at %d+%d, expected at %d in %d bytes", off, size, last, len(data))
			}
			last = off + size
		})
		if res.valid > len(data) || (res.err == nil && res.valid != len(data)) || (res.err != nil) != (res.valid < len(data) || len(data) < segHeaderLen) {
			t.Fatalf("valid %d of %d bytes, err %v", res.valid, len(data), res.err)
		}
		_ = maxSeqFrom(data, 0)
	})
}

// FuzzRecover writes arbitrary bytes as a segment and a checkpoint and
// opens the directory: Open must not panic, must leave an outbox that
// works, and its repair must stick (a second Open finds nothing to fix).
func FuzzRecover(f *testing.F) {
	seg := sampleSegment()
	cp := encodeCheckpoint(checkpoint{next: 4, pending: []span{{2, 3}}})
	f.Add(seg, cp)
	f.Add(seg[:len(seg)-5], []byte{})
	flipped := bytes.Clone(seg)
	flipped[segHeaderLen+12] ^= 0x80
	f.Add(flipped, cp)
	f.Add([]byte("not a segment at all, long enough to have a header"), cp[:10])
	f.Add(make([]byte, 100), bytes.Repeat([]byte{1}, 40))
	f.Fuzz(func(t *testing.T, segData, cpData []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), segData, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(cpData) > 0 {
			if err := os.WriteFile(filepath.Join(dir, checkpointName), cpData, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ob, err := Open(dir, WithSync(SyncNever))
		if err != nil {
			t.Fatalf("Open: %v", err) // damage is repaired, never fatal
		}
		var prev uint64
		for {
			ms, err := ob.Next(100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				break
			}
			for _, m := range ms {
				if m.Seq <= prev {
					t.Fatalf("seq %d after %d", m.Seq, prev)
				}
				prev = m.Seq
			}
		}
		before := ob.Stats()
		seq, err := ob.Append(Message{Topic: "after/recovery", Payload: []byte("x"), QoS: 1})
		if err != nil || seq < before.NextSeq || seq <= prev {
			t.Fatalf("Append after recovery = %d, %v (next was %d, last seen %d)", seq, err, before.NextSeq, prev)
		}
		if err := ob.Close(); err != nil {
			t.Fatal(err)
		}
		ob, err = Open(dir, WithSync(SyncNever))
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		st := ob.Stats()
		if len(ob.RecoveryErrors()) != 0 || st.TornTails != 0 {
			t.Fatalf("second Open found damage again: %v %+v", ob.RecoveryErrors(), st)
		}
		if st.Pending != before.Pending+1 {
			t.Fatalf("%d pending after reopen, want %d", st.Pending, before.Pending+1)
		}
	})
}
