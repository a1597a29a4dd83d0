package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openT opens an outbox that the test closes at the end.
func openT(t testing.TB, dir string, opts ...Option) *Outbox {
	t.Helper()
	ob, err := Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	return ob
}

func closeT(t testing.TB, ob *Outbox) {
	t.Helper()
	if err := ob.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func payloadFor(seq int) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("m%d.", seq), 1+seq%5))
}

// appendT appends messages numbered from..to-1 (topic and payload derived
// from the number) and returns the sequence numbers.
func appendT(t testing.TB, ob *Outbox, from, to int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < to; i++ {
		seq, err := ob.Append(Message{Topic: fmt.Sprintf("t/%d", i), Payload: payloadFor(i), QoS: 1, Retain: i%2 == 0})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// drain calls Next until it returns nothing.
func drain(t testing.TB, ob *Outbox) []Message {
	t.Helper()
	var all []Message
	for {
		ms, err := ob.Next(7)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(ms) == 0 {
			return all
		}
		all = append(all, ms...)
	}
}

func seqsOf(ms []Message) []uint64 {
	var s []uint64
	for _, m := range ms {
		s = append(s, m.Seq)
	}
	return s
}

func span64(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func wantSeqs(t testing.TB, what string, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
}

func TestAppendNextAckInOrder(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	ob := openT(t, t.TempDir(), WithSync(SyncNever), WithClock(func() time.Time { return now }))
	seqs := appendT(t, ob, 0, 10)
	wantSeqs(t, "Append", seqs, span64(1, 11))

	first, err := ob.Next(3)
	if err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "Next(3)", seqsOf(first), []uint64{1, 2, 3})
	m := first[1]
	if m.Topic != "t/1" || !bytes.Equal(m.Payload, payloadFor(1)) || m.QoS != 1 || m.Retain || !m.Queued.Equal(now) {
		t.Fatalf("message 2 = %+v", m)
	}
	if !first[0].Retain {
		t.Fatal("message 1 lost its retain flag")
	}
	rest := drain(t, ob)
	wantSeqs(t, "rest", seqsOf(rest), span64(4, 11))

	for _, s := range []uint64{1, 2, 3} {
		if err := ob.Ack(s); err != nil {
			t.Fatal(err)
		}
	}
	st := ob.Stats()
	if st.Pending != 7 || st.Queued != 10 || st.Delivered != 3 || st.NextSeq != 11 {
		t.Fatalf("stats %+v", st)
	}
	var want int64
	for i := 3; i < 10; i++ {
		want += messageRecordSize(len(fmt.Sprintf("t/%d", i)), len(payloadFor(i)), false)
	}
	if st.PendingBytes != want {
		t.Fatalf("PendingBytes %d, want %d", st.PendingBytes, want)
	}
	ob.Rewind()
	wantSeqs(t, "after Rewind", seqsOf(drain(t, ob)), span64(4, 11))
}

func TestPayloadsDoNotAlias(t *testing.T) {
	ob := openT(t, t.TempDir(), WithSync(SyncNever))
	appendT(t, ob, 0, 3)
	ms := drain(t, ob)
	ms[0].Payload = append(ms[0].Payload, "XXXXXXXX"...)
	if !bytes.Equal(ms[1].Payload, payloadFor(1)) {
		t.Fatalf("appending to one payload changed the next: %q", ms[1].Payload)
	}
}

func TestOutOfOrderAcks(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncNever), WithSegmentSize(4096))
	appendT(t, ob, 0, 8)
	for _, s := range []uint64{3, 1, 5, 5, 8} {
		if err := ob.Ack(s); err != nil {
			t.Fatalf("Ack(%d): %v", s, err)
		}
	}
	if st := ob.Stats(); st.Pending != 4 || st.Delivered != 4 {
		t.Fatalf("stats %+v", st)
	}
	wantSeqs(t, "unacked", seqsOf(drain(t, ob)), []uint64{2, 4, 6, 7})
	if err := ob.Ack(2); err != nil { // the head now moves over 1, 2, 3
		t.Fatal(err)
	}
	ob.Rewind()
	wantSeqs(t, "after acking 2", seqsOf(drain(t, ob)), []uint64{4, 6, 7})
	closeT(t, ob)

	ob = openT(t, dir, WithSync(SyncNever), WithSegmentSize(4096))
	got := drain(t, ob)
	wantSeqs(t, "after restart", seqsOf(got), []uint64{4, 6, 7})
	if got[0].Topic != "t/3" || !bytes.Equal(got[0].Payload, payloadFor(3)) {
		t.Fatalf("recovered %+v", got[0])
	}
	if st := ob.Stats(); st.Recovered != 3 || st.NextSeq != 9 {
		t.Fatalf("stats after restart %+v", st)
	}
	if seq, err := ob.Append(Message{Topic: "t/x", QoS: 1}); err != nil || seq != 9 {
		t.Fatalf("Append after restart = %d, %v; want 9", seq, err)
	}
}

func TestRestartReplaysExactlyTheUnacked(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncNever), WithSegmentSize(4096)}
	ob := openT(t, dir, opts...)
	appendT(t, ob, 0, 300)
	var want []uint64
	for s := uint64(1); s <= 300; s++ {
		if s%3 == 0 || (s > 100 && s < 200 && s%7 != 0) {
			if err := ob.Ack(s); err != nil {
				t.Fatal(err)
			}
		} else {
			want = append(want, s)
		}
	}
	if st := ob.Stats(); st.Segments < 3 {
		t.Fatalf("want several segments for this test, have %d", st.Segments)
	}
	closeT(t, ob)
	for range 2 { // twice: the first reopen compacts, the second must agree
		ob = openT(t, dir, opts...)
		got := drain(t, ob)
		wantSeqs(t, "replay", seqsOf(got), want)
		for _, m := range got {
			i := int(m.Seq) - 1
			if m.Topic != fmt.Sprintf("t/%d", i) || !bytes.Equal(m.Payload, payloadFor(i)) || m.Retain != (i%2 == 0) {
				t.Fatalf("message %d came back as %+v", m.Seq, m)
			}
		}
		closeT(t, ob)
	}
}

func TestEmptyOutboxKeepsSequenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncNever), WithSegmentSize(4096)}
	ob := openT(t, dir, opts...)
	for _, s := range appendT(t, ob, 0, 200) {
		if err := ob.Ack(s); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, ob)
	ob = openT(t, dir, opts...)
	if st := ob.Stats(); st.Pending != 0 || st.NextSeq != 201 || st.Segments != 1 {
		t.Fatalf("stats %+v", st)
	}
	if seq, _ := ob.Append(Message{Topic: "a", QoS: 1}); seq != 201 {
		t.Fatalf("seq %d, want 201", seq)
	}
}

func TestDropOldest(t *testing.T) {
	dir := t.TempDir()
	var dropped []Message
	opts := []Option{WithSync(SyncNever), WithMaxCount(5), WithOnDrop(func(m Message) { dropped = append(dropped, m) })}
	ob := openT(t, dir, opts...)
	appendT(t, ob, 0, 3)
	if err := ob.Ack(2); err != nil {
		t.Fatal(err)
	}
	appendT(t, ob, 3, 9) // 8 pending wanted, 5 allowed: 1, 3, 4 go
	wantSeqs(t, "dropped", seqsOf(dropped), []uint64{1, 3, 4})
	if dropped[1].Topic != "t/2" || !bytes.Equal(dropped[1].Payload, payloadFor(2)) {
		t.Fatalf("OnDrop got %+v", dropped[1])
	}
	st := ob.Stats()
	if st.Dropped != 3 || st.Pending != 5 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
	wantSeqs(t, "kept", seqsOf(drain(t, ob)), span64(5, 10))
	if err := ob.Ack(1); err != nil { // a late PUBACK for a dropped message
		t.Fatalf("Ack of a dropped message: %v", err)
	}
	closeT(t, ob)
	ob = openT(t, dir, opts...)
	wantSeqs(t, "kept after restart", seqsOf(drain(t, ob)), span64(5, 10))
}

func TestDropOldestByBytes(t *testing.T) {
	one := messageRecordSize(len("t/0"), 100, false)
	ob := openT(t, t.TempDir(), WithSync(SyncNever), WithMaxBytes(3*one))
	for i := range 5 {
		if _, err := ob.Append(Message{Topic: "t/0", Payload: bytes.Repeat([]byte{byte(i)}, 100), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	st := ob.Stats()
	if st.Pending != 3 || st.PendingBytes != 3*one || st.Dropped != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A big message evicts as many as it needs.
	if _, err := ob.Append(Message{Topic: "t/0", Payload: make([]byte, 150), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, "kept", seqsOf(drain(t, ob)), []uint64{5, 6})
	if _, err := ob.Append(Message{Topic: "t/0", Payload: make([]byte, 3*one), QoS: 1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Append: %v, want ErrTooLarge", err)
	}
}

func TestRejectNew(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncNever), WithMaxCount(3), WithOverflow(RejectNew)}
	ob := openT(t, dir, opts...)
	appendT(t, ob, 0, 3)
	_, err := ob.Append(Message{Topic: "t/x", QoS: 1})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append to a full outbox: %v, want ErrFull", err)
	}
	if st := ob.Stats(); st.Rejected != 1 || st.Pending != 3 || st.Dropped != 0 || st.NextSeq != 4 {
		t.Fatalf("stats %+v", st)
	}
	if err := ob.Ack(2); err != nil {
		t.Fatal(err)
	}
	if seq, err := ob.Append(Message{Topic: "t/x", QoS: 1}); err != nil || seq != 4 {
		t.Fatalf("Append after an ack = %d, %v", seq, err)
	}
	wantSeqs(t, "queue", seqsOf(drain(t, ob)), []uint64{1, 3, 4})

	one := messageRecordSize(3, 10, false)
	ob2 := openT(t, t.TempDir(), WithSync(SyncNever), WithMaxBytes(2*one+5), WithOverflow(RejectNew))
	for i := range 2 {
		if _, err := ob2.Append(Message{Topic: "a/b", Payload: make([]byte, 10), QoS: 1}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if _, err := ob2.Append(Message{Topic: "a/b", Payload: make([]byte, 10), QoS: 1}); !errors.Is(err, ErrFull) {
		t.Fatalf("over the byte bound: %v, want ErrFull", err)
	}
}

func TestBadInput(t *testing.T) {
	ob := openT(t, t.TempDir(), WithSync(SyncNever))
	for _, c := range []struct {
		topic string
		qos   byte
		want  string
	}{
		{"", 1, "empty topic"},
		{"a/+/b", 1, "wildcard"},
		{"a/#", 1, "wildcard"},
		{"a\x00b", 1, "NUL"},
		{"a\xffb", 1, "UTF-8"},
		{strings.Repeat("a", MaxTopicLen+1), 1, "topic of"},
		{"a/b", 3, "QoS 3"},
	} {
		_, err := ob.Append(Message{Topic: c.topic, QoS: c.qos})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Append(%.20q, qos %d): %v; want ErrInvalid mentioning %q", c.topic, c.qos, err, c.want)
		}
	}
	for _, s := range []uint64{0, 1, 99} {
		if err := ob.Ack(s); !errors.Is(err, ErrUnknownSeq) {
			t.Errorf("Ack(%d) on an empty outbox: %v, want ErrUnknownSeq", s, err)
		}
	}
	if ms, err := ob.Next(0); ms != nil || err != nil {
		t.Errorf("Next(0) = %v, %v", ms, err)
	}
	for _, opt := range []Option{WithMaxBytes(0), WithMaxCount(-1), WithSegmentSize(10), WithOverflow(7), WithSync(-5)} {
		if _, err := Open(t.TempDir(), opt); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad option: %v, want ErrInvalid", err)
		}
	}
	if _, err := Open(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(\"\"): %v", err)
	}
}

func TestDirectoryErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("Open(%s) = %v; want an error naming %s", dir, err, file)
		}
	}

	dir := filepath.Join(base, "state")
	ob := openT(t, dir)
	if _, err := Open(dir); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second Open: %v, want ErrLocked naming %s", err, dir)
	}
	closeT(t, ob)
	ob = openT(t, dir) // the lock went with Close
	closeT(t, ob)
	if _, err := ob.Append(Message{Topic: "a", QoS: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := ob.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: permission checks do not apply; skipped")
		return
	}
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ro)
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), ro) {
		t.Errorf("Open of a read-only dir: %v; want a permission error naming %s", err, ro)
	}
}

// faultyFile fails writes once a byte budget is spent, as a full disk does,
// and fsyncs as the test says.
type faultyFile struct {
	*os.File
	fs *faults
}

type faults struct {
	mu        sync.Mutex
	budget    int64 // bytes writable before ENOSPC; < 0: unlimited
	syncErr   error
	syncs     int
	syncEnter chan struct{} // when set, Sync announces itself here…
	syncGo    chan struct{} // …and waits for this
	written   chan struct{} // when set, receives after each write
}

func (f faultyFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	b := f.fs.budget
	if b >= 0 && int64(len(p)) > b {
		f.fs.budget = 0
		f.fs.mu.Unlock()
		n, _ := f.File.WriteAt(p[:b], off) // a partial write, then the error
		return n, syscall.ENOSPC
	}
	if b >= 0 {
		f.fs.budget -= int64(len(p))
	}
	written := f.fs.written
	f.fs.mu.Unlock()
	n, err := f.File.WriteAt(p, off)
	if written != nil {
		written <- struct{}{}
	}
	return n, err
}

func (f faultyFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs++
	err, enter, goOn := f.fs.syncErr, f.fs.syncEnter, f.fs.syncGo
	f.fs.mu.Unlock()
	if enter != nil {
		enter <- struct{}{}
		<-goOn
	}
	if err != nil {
		return err
	}
	return f.File.Sync()
}

func withFaults(fs *faults) Option {
	return func(o *options) { o.wrap = func(f *os.File) segFile { return faultyFile{f, fs} } }
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	fl := &faults{budget: -1}
	ob := openT(t, dir, WithSync(SyncNever), withFaults(fl))
	appendT(t, ob, 0, 5)
	fl.mu.Lock()
	fl.budget = 30 // the next record is longer: half of it gets written
	fl.mu.Unlock()
	_, err := ob.Append(Message{Topic: "t/full", Payload: make([]byte, 100), QoS: 1})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Append on a full disk: %v; want ENOSPC naming %s", err, dir)
	}
	if err := ob.Ack(1); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Ack on a full disk: %v", err)
	}
	fl.mu.Lock()
	fl.budget = -1 // space freed
	fl.mu.Unlock()
	appendT(t, ob, 5, 7)
	wantSeqs(t, "queue", seqsOf(drain(t, ob)), span64(1, 8))
	closeT(t, ob)

	ob = openT(t, dir, WithSync(SyncNever))
	wantSeqs(t, "after restart", seqsOf(drain(t, ob)), span64(1, 8))
	if st := ob.Stats(); st.TornTails != 0 || st.Corruptions != 0 {
		t.Fatalf("the failed write left damage: %+v", st)
	}
}

func TestFsyncFailureBreaksTheOutbox(t *testing.T) {
	fl := &faults{budget: -1}
	ob := openT(t, t.TempDir(), WithSync(SyncAlways), withFaults(fl))
	appendT(t, ob, 0, 2)
	fl.mu.Lock()
	fl.syncErr = syscall.EIO
	fl.mu.Unlock()
	seq, err := ob.Append(Message{Topic: "t", QoS: 1})
	if !errors.Is(err, ErrBroken) || !errors.Is(err, syscall.EIO) || seq != 3 {
		t.Fatalf("Append with a failing fsync = %d, %v; want seq 3 and ErrBroken wrapping EIO", seq, err)
	}
	if _, err := ob.Append(Message{Topic: "t", QoS: 1}); !errors.Is(err, ErrBroken) {
		t.Fatalf("Append after: %v", err)
	}
	if _, err := ob.Next(1); !errors.Is(err, ErrBroken) {
		t.Fatalf("Next after: %v", err)
	}
}

func TestGroupCommitSharesOneFsync(t *testing.T) {
	fl := &faults{budget: -1}
	ob := openT(t, t.TempDir(), WithSync(SyncAlways), withFaults(fl))
	enter, goOn, written := make(chan struct{}), make(chan struct{}), make(chan struct{}, 3)
	fl.mu.Lock()
	fl.syncs, fl.syncEnter, fl.syncGo, fl.written = 0, enter, goOn, written
	fl.mu.Unlock()

	errs := make(chan error, 3)
	app := func() { _, err := ob.Append(Message{Topic: "t", QoS: 1}); errs <- err }
	go app()
	<-written
	<-enter // the first appender is the leader, inside fsync
	go app()
	go app()
	<-written // both others have written and wait for a sync
	<-written
	goOn <- struct{}{} // the first fsync covered only the first record…
	<-enter            // …so one of the others leads a second one for both
	goOn <- struct{}{}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.syncs != 2 {
		t.Fatalf("%d fsyncs for 3 concurrent appends, want 2", fl.syncs)
	}
	fl.syncEnter, fl.written = nil, nil
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncAlways), WithSegmentSize(4096)}
	ob := openT(t, dir, opts...)
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := ob.Append(Message{Topic: fmt.Sprintf("w/%d", w), Payload: fmt.Appendf(nil, "%d", i), QoS: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	acked := 0
	lastPerWriter := map[string]int{}
	for acked < writers*each {
		select {
		case <-ob.Notify():
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification; %d acked", acked)
		}
		for {
			ms, err := ob.Next(16)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				break
			}
			for _, m := range ms {
				var n int
				fmt.Sscan(string(m.Payload), &n)
				if last, ok := lastPerWriter[m.Topic]; ok && n != last+1 {
					t.Fatalf("writer %s: message %d after %d", m.Topic, n, last)
				}
				lastPerWriter[m.Topic] = n
				if err := ob.Ack(m.Seq); err != nil {
					t.Fatal(err)
				}
				acked++
			}
		}
	}
	wg.Wait()
	st := ob.Stats()
	if st.Pending != 0 || st.Delivered != writers*each {
		t.Fatalf("stats %+v", st)
	}
}

func TestNotify(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncNever))
	select {
	case <-ob.Notify():
		t.Fatal("signal from an empty outbox")
	default:
	}
	appendT(t, ob, 0, 2)
	<-ob.Notify() // coalesced: one signal for both
	select {
	case <-ob.Notify():
		t.Fatal("signals did not coalesce")
	default:
	}
	ob.Rewind()
	<-ob.Notify()
	closeT(t, ob)
	ob = openT(t, dir, WithSync(SyncNever))
	<-ob.Notify() // recovered messages are waiting
}

func TestCompactionBoundsDisk(t *testing.T) {
	dir := t.TempDir()
	const maxBytes, seg = 16 << 10, 4096
	opts := []Option{WithSync(SyncNever), WithSegmentSize(seg), WithMaxBytes(maxBytes)}
	ob := openT(t, dir, opts...)
	stuck := appendT(t, ob, 0, 1)[0] // never acknowledged: pins its segment
	maxDisk := int64(0)
	for i := 1; i < 5000; i++ {
		seq := appendT(t, ob, i, i+1)[0]
		if i%3 == 0 {
			continue // a few stay pending for a while
		}
		if err := ob.Ack(seq); err != nil {
			t.Fatal(err)
		}
		if i%3 == 2 && i > 2 {
			if err := ob.Ack(seq - 2); err != nil {
				t.Fatal(err)
			}
		}
		st := ob.Stats()
		maxDisk = max(maxDisk, st.DiskBytes)
		if n := len(ob.entries) - ob.head; n > 2*st.Pending+1024 {
			t.Fatalf("the index holds %d entries for %d pending messages", n, st.Pending)
		}
	}
	if limit := int64(2*maxBytes + 2*seg + 512); maxDisk > limit {
		t.Fatalf("disk use reached %d bytes, bound %d", maxDisk, limit)
	}
	want := ob.Stats()
	t.Logf("before restart: %+v", want)
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(files) != want.Segments {
		t.Fatalf("%d segment files, Stats said %d", len(files), want.Segments)
	}
	closeT(t, ob)
	ob = openT(t, dir, opts...)
	got := drain(t, ob)
	if len(got) == 0 || got[0].Seq != stuck || got[0].Topic != "t/0" || !bytes.Equal(got[0].Payload, payloadFor(0)) {
		t.Fatalf("the stuck message did not survive compaction: %+v", got[:min(1, len(got))])
	}
	if len(got) != want.Pending {
		t.Fatalf("%d messages after restart, %d before", len(got), want.Pending)
	}
}

func TestSyncIntervalAndSync(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncInterval(time.Millisecond)))
	appendT(t, ob, 0, 50)
	if err := ob.Sync(); err != nil {
		t.Fatal(err)
	}
	closeT(t, ob) // stops the background syncer (goleak checks)
	ob = openT(t, dir, WithSync(SyncNever))
	wantSeqs(t, "after restart", seqsOf(drain(t, ob)), span64(1, 51))
}

func TestPolicyNames(t *testing.T) {
	for p, want := range map[fmt.Stringer]string{
		SyncAlways: "SyncAlways", SyncNever: "SyncNever", SyncInterval(time.Second): "SyncInterval(1s)",
		SyncPolicy(-7): "SyncPolicy(-7)", DropOldest: "DropOldest", RejectNew: "RejectNew", Overflow(9): "Overflow(9)",
	} {
		if got := p.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
