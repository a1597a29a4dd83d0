package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The property test drives an Outbox and a plain in-memory model with the
// same random operations — append, ack, next, rewind, clean restart and
// crash (files closed with no final compaction or sync, as kill -9 leaves
// them) — and checks after every step that they agree.

type modelMsg struct {
	seq      uint64
	topic    string
	payload  []byte
	qos      byte
	retain   bool
	size     int64
	latest   bool
	deadline int64 // unix ns; 0: no MaxAge
}

type model struct {
	pending  []modelMsg // by seq
	next     uint64
	cursor   uint64
	maxCount int
	maxBytes int64
	overflow Overflow
	clock    *fakeClock
}

func (m *model) bytes() int64 {
	var n int64
	for _, p := range m.pending {
		n += p.size
	}
	return n
}

// crash abandons an Outbox the way a killed process would: nothing more
// reaches the files, and the kernel drops the lock.
func crash(ob *Outbox) {
	ob.mu.Lock()
	ob.closed = true
	ob.mu.Unlock()
	if ob.stop != nil {
		close(ob.stop)
		<-ob.done
	}
	ob.closeFiles()
}

func TestModel(t *testing.T) {
	base := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(base, "model")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		m := &model{
			next:     1,
			maxCount: rapid.IntRange(1, 20).Draw(rt, "maxCount"),
			maxBytes: rapid.Int64Range(100, 1500).Draw(rt, "maxBytes"),
			overflow: rapid.SampledFrom([]Overflow{DropOldest, RejectNew}).Draw(rt, "overflow"),
			clock:    newFakeClock(),
		}
		seg := rapid.Int64Range(64, 1024).Draw(rt, "segmentSize")
		opts := []Option{WithSync(SyncNever), withSegmentSizeUnchecked(seg), WithClock(m.clock.now),
			WithMaxCount(m.maxCount), WithMaxBytes(m.maxBytes), WithOverflow(m.overflow)}
		ob, err := Open(dir, opts...)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { _ = ob.Close() }()

		reopen := func(rt *rapid.T, crashed bool) {
			if crashed {
				crash(ob)
			} else if err := ob.Close(); err != nil {
				rt.Fatalf("Close: %v", err)
			}
			if ob, err = Open(dir, opts...); err != nil {
				rt.Fatalf("reopen: %v", err)
			}
			if errs := ob.RecoveryErrors(); len(errs) != 0 || ob.Stats().TornTails != 0 {
				rt.Fatalf("reopen found damage: %v %+v", errs, ob.Stats())
			}
			m.cursor = 0
		}

		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				// A burst, so that 30-odd steps still fill several segments.
				for range rapid.IntRange(1, 6).Draw(rt, "burst") {
					appendOne(rt, ob, m)
				}
			},
			"ack pending": func(rt *rapid.T) {
				if len(m.pending) == 0 {
					rt.Skip("nothing pending")
				}
				for range rapid.IntRange(1, 4).Draw(rt, "burst") {
					if len(m.pending) == 0 {
						return
					}
					i := rapid.IntRange(0, len(m.pending)-1).Draw(rt, "i")
					if err := ob.Ack(m.pending[i].seq); err != nil {
						rt.Fatal(err)
					}
					m.pending = append(m.pending[:i], m.pending[i+1:]...)
				}
			},
			"ack any": func(rt *rapid.T) {
				seq := rapid.Uint64Range(0, m.next+1).Draw(rt, "seq")
				err := ob.Ack(seq)
				if seq == 0 || seq >= m.next {
					if !errors.Is(err, ErrUnknownSeq) {
						rt.Fatalf("Ack(%d) with next %d: %v", seq, m.next, err)
					}
					return
				}
				if err != nil {
					rt.Fatalf("Ack(%d): %v", seq, err)
				}
				for i, p := range m.pending {
					if p.seq == seq {
						m.pending = append(m.pending[:i], m.pending[i+1:]...)
						break
					}
				}
			},
			"next": func(rt *rapid.T) {
				k := rapid.IntRange(1, 8).Draw(rt, "k")
				got, err := ob.Next(k)
				if err != nil {
					rt.Fatal(err)
				}
				var want []modelMsg
				now := m.clock.ns.Load()
				kept := m.pending[:0]
				for _, p := range m.pending {
					if p.seq >= m.cursor && len(want) < k {
						if p.deadline != 0 && now > p.deadline {
							continue // expired: dropped by Next
						}
						want = append(want, p)
					}
					kept = append(kept, p)
				}
				m.pending = kept
				if len(got) != len(want) {
					rt.Fatalf("Next(%d) returned %d messages, want %d", k, len(got), len(want))
				}
				for i, w := range want {
					g := got[i]
					if g.Seq != w.seq || g.Topic != w.topic || !bytes.Equal(g.Payload, w.payload) || g.QoS != w.qos || g.Retain != w.retain {
						rt.Fatalf("Next[%d] = %d %q %q qos %d retain %v; want %+v", i, g.Seq, g.Topic, g.Payload, g.QoS, g.Retain, w)
					}
				}
				if len(want) > 0 {
					m.cursor = want[len(want)-1].seq + 1
				}
			},
			"rewind": func(rt *rapid.T) { ob.Rewind(); m.cursor = 0 },
			"time passes": func(rt *rapid.T) {
				m.clock.advance(time.Duration(rapid.IntRange(0, 120).Draw(rt, "seconds")) * time.Second)
			},
			"restart": func(rt *rapid.T) { reopen(rt, false) },
			"crash":   func(rt *rapid.T) { reopen(rt, true) },
			"": func(rt *rapid.T) {
				st := ob.Stats()
				if st.Pending != len(m.pending) || st.PendingBytes != m.bytes() || st.NextSeq != m.next {
					rt.Fatalf("stats %+v; model has %d pending, %d bytes, next %d", st, len(m.pending), m.bytes(), m.next)
				}
				if limit := 2*m.maxBytes + 2*seg + 1024; st.DiskBytes > limit {
					rt.Fatalf("disk use %d over %d", st.DiskBytes, limit)
				}
			},
		})
	})
}

// withSegmentSizeUnchecked allows segments smaller than WithSegmentSize
// does, so that short random runs rotate and compact often.
func withSegmentSizeUnchecked(n int64) Option { return func(o *options) { o.segSize = n } }

func appendOne(rt *rapid.T, ob *Outbox, m *model) {
	topic := rapid.SampledFrom([]string{"a", "b/c", "sensor/temperature/long/topic"}).Draw(rt, "topic")
	payload := rapid.SliceOfN(rapid.Byte(), 0, 150).Draw(rt, "payload")
	qos := byte(rapid.IntRange(0, 2).Draw(rt, "qos"))
	retain := rapid.Bool().Draw(rt, "retain")
	latest := rapid.Bool().Draw(rt, "latest")
	maxAge := time.Duration(rapid.SampledFrom([]int{0, 0, 30, 90}).Draw(rt, "maxAge")) * time.Second
	size := messageRecordSize(len(topic), len(payload), maxAge > 0)
	seq, err := ob.Append(Message{Topic: topic, Payload: payload, QoS: qos, Retain: retain, Latest: latest, MaxAge: maxAge})
	if size > m.maxBytes {
		if !errors.Is(err, ErrTooLarge) {
			rt.Fatalf("Append of %d bytes over %d: %v", size, m.maxBytes, err)
		}
		return
	}
	// The Latest message this one replaces leaves first (and makes room),
	// unless the outbox refuses the new one.
	rest := m.pending
	if latest {
		for i := len(m.pending) - 1; i >= 0; i-- {
			if p := m.pending[i]; p.latest && p.topic == topic {
				rest = slices.Concat(m.pending[:i], m.pending[i+1:])
				break
			}
		}
	}
	var restBytes int64
	for _, p := range rest {
		restBytes += p.size
	}
	full := func() bool { return len(rest)+1 > m.maxCount || restBytes+size > m.maxBytes }
	if m.overflow == RejectNew && full() {
		if !errors.Is(err, ErrFull) {
			rt.Fatalf("Append to a full outbox: %v, want ErrFull", err)
		}
		return
	}
	for full() {
		restBytes -= rest[0].size
		rest = rest[1:]
	}
	if err != nil || seq != m.next {
		rt.Fatalf("Append = %d, %v; want %d", seq, err, m.next)
	}
	var deadline int64
	if maxAge > 0 {
		deadline = m.clock.ns.Load() + int64(maxAge)
	}
	m.pending = append(slices.Clip(rest), modelMsg{seq, topic, payload, qos, retain, size, latest, deadline})
	m.next++
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)

	ob, err := Open(dir, WithSync(SyncInterval(100e6)), WithMaxCount(10_000))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Offline: the bridge queues what it would publish.
	seq, _ := ob.Append(Message{Topic: "home/livingroom/temperature", Payload: []byte("21.5"), QoS: 1})
	_, _ = ob.Append(Message{Topic: "home/livingroom/humidity", Payload: []byte("48"), QoS: 1})

	// Connected: send a window, acknowledge on PUBACK.
	msgs, _ := ob.Next(16)
	for _, m := range msgs {
		fmt.Printf("publish %d %s %s\n", m.Seq, m.Topic, m.Payload)
	}
	_ = ob.Ack(seq) // the broker acknowledged the first only; the link drops

	// Reconnected: everything unacknowledged goes again.
	ob.Rewind()
	msgs, _ = ob.Next(16)
	for _, m := range msgs {
		fmt.Printf("resend %d %s\n", m.Seq, m.Topic)
	}
	fmt.Println("pending:", ob.Stats().Pending)
	_ = ob.Close()
	// Output:
	// publish 1 home/livingroom/temperature 21.5
	// publish 2 home/livingroom/humidity 48
	// resend 2 home/livingroom/humidity
	// pending: 1
}
