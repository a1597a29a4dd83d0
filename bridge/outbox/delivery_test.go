package outbox

import (
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand (safe from any goroutine).
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func payloads(ms []Message) (s []string) {
	for _, m := range ms {
		s = append(s, m.Topic+"="+string(m.Payload))
	}
	return s
}

func appendM(t testing.TB, ob *Outbox, m Message) uint64 {
	t.Helper()
	seq, err := ob.Append(m)
	if err != nil {
		t.Fatalf("Append %s: %v", m.Topic, err)
	}
	return seq
}

// A Latest message replaces the undelivered Latest message of its topic,
// in the log too (a reopen does not bring the old one back), and leaves
// other topics and other policies alone.
func TestLatestKeepsOnlyTheNewestPerTopic(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncNever))
	state := func(v string) Message {
		return Message{Topic: "n/temp/state", Payload: []byte(v), QoS: 1, Retain: true, Latest: true}
	}
	appendM(t, ob, state("20.0"))
	appendM(t, ob, Message{Topic: "n/button/event", Payload: []byte("press"), QoS: 1})
	appendM(t, ob, state("20.5"))
	appendM(t, ob, Message{Topic: "n/hum/state", Payload: []byte("40"), QoS: 1, Latest: true})
	appendM(t, ob, state("21.0"))
	if st := ob.Stats(); st.Pending != 3 || st.Superseded != 2 || st.Queued != 5 {
		t.Fatalf("stats %+v, want 3 pending, 2 superseded", st)
	}
	closeT(t, ob)

	ob = openT(t, dir, WithSync(SyncNever))
	got := drain(t, ob)
	want := []string{"n/button/event=press", "n/hum/state=40", "n/temp/state=21.0"}
	if !equalStrings(payloads(got), want) {
		t.Fatalf("after reopen: %q, want %q", payloads(got), want)
	}
	if !got[2].Latest || !got[2].Retain || got[0].Latest {
		t.Fatalf("flags lost: %+v", got)
	}
	// The reopened outbox still knows the newest per topic.
	appendM(t, ob, state("21.5"))
	ob.Rewind()
	if got := payloads(drain(t, ob)); !equalStrings(got, []string{"n/button/event=press", "n/hum/state=40", "n/temp/state=21.5"}) {
		t.Fatalf("after a newer state: %q", got)
	}
	if st := ob.Stats(); st.Superseded != 1 || st.Pending != 3 {
		t.Fatalf("stats after reopen %+v", st)
	}
}

// A Latest message already handed out (in flight) is still replaced: its
// late Ack is ignored, and the new one goes out.
func TestLatestReplacesInFlight(t *testing.T) {
	ob := openT(t, t.TempDir(), WithSync(SyncNever))
	old := appendM(t, ob, Message{Topic: "s", Payload: []byte("1"), QoS: 1, Latest: true})
	if ms, _ := ob.Next(10); len(ms) != 1 {
		t.Fatalf("Next: %v", ms)
	}
	appendM(t, ob, Message{Topic: "s", Payload: []byte("2"), QoS: 1, Latest: true})
	if err := ob.Ack(old); err != nil {
		t.Fatalf("late Ack of the superseded message: %v", err)
	}
	ms := drain(t, ob)
	if got := payloads(ms); !equalStrings(got, []string{"s=2"}) {
		t.Fatalf("got %q", got)
	}
	if st := ob.Stats(); st.Superseded != 1 || st.Delivered != 0 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A message older than its MaxAge when Next could hand it out is dropped
// and counted, also after a restart (the age is in the log); others pass.
func TestMaxAgeDropsStaleMessages(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock()
	ob := openT(t, dir, WithSync(SyncNever), WithClock(clk.now))
	press := Message{Topic: "n/button/event", Payload: []byte("press"), QoS: 1, MaxAge: time.Minute}
	appendM(t, ob, press)
	appendM(t, ob, Message{Topic: "n/log", Payload: []byte("kept"), QoS: 1})
	clk.advance(30 * time.Second)
	appendM(t, ob, Message{Topic: "n/button/event", Payload: []byte("double"), QoS: 1, MaxAge: time.Minute})
	clk.advance(45 * time.Second) // the first press is 75 s old, the second 45 s
	closeT(t, ob)

	ob = openT(t, dir, WithSync(SyncNever), WithClock(clk.now))
	got := drain(t, ob)
	if p := payloads(got); !equalStrings(p, []string{"n/log=kept", "n/button/event=double"}) {
		t.Fatalf("got %q", p)
	}
	if got[1].MaxAge != time.Minute {
		t.Fatalf("MaxAge lost: %v", got[1].MaxAge)
	}
	if st := ob.Stats(); st.Expired != 1 || st.Pending != 2 {
		t.Fatalf("stats %+v, want 1 expired, 2 pending", st)
	}
	// Handed out in time, it is not taken back; after a Rewind (a
	// reconnect) it has aged too.
	clk.advance(time.Minute)
	ob.Rewind()
	if p := payloads(drain(t, ob)); !equalStrings(p, []string{"n/log=kept"}) {
		t.Fatalf("after another minute: %q", p)
	}
	closeT(t, ob)
	ob = openT(t, dir, WithSync(SyncNever), WithClock(clk.now))
	if p := payloads(drain(t, ob)); !equalStrings(p, []string{"n/log=kept"}) {
		t.Fatalf("expiry not in the log: %q", p)
	}
}

func TestMaxAgeNegativeRefused(t *testing.T) {
	ob := openT(t, t.TempDir(), WithSync(SyncNever))
	_, err := ob.Append(Message{Topic: "a", QoS: 1, MaxAge: -time.Second})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	if err.Error() != `outbox: invalid argument: append to "a": negative MaxAge -1s` {
		t.Fatalf("message %q", err)
	}
}

// Topics whose Latest message was delivered are forgotten, so topics that
// come and go do not grow the index without bound.
func TestLatestIndexBounded(t *testing.T) {
	ob := openT(t, t.TempDir(), WithSync(SyncNever))
	for i := range 5000 {
		seq := appendM(t, ob, Message{Topic: "reply/" + strconv.Itoa(i), QoS: 1, Latest: true})
		if err := ob.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	ob.mu.Lock()
	n := len(ob.latest)
	ob.mu.Unlock()
	if n > 65 { // swept once it outgrows twice the pending messages plus 64
		t.Fatalf("index holds %d topics with nothing pending", n)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
