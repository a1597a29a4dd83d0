package outbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "seg-*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// recordOffsets returns where each record of a segment file starts.
func recordOffsets(t testing.TB, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	res := scanSegment(data, func(_ record, off, _ int) { offs = append(offs, off) })
	if res.err != nil {
		t.Fatalf("%s is damaged already: %v", path, res.err)
	}
	return offs
}

func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t testing.TB, path string, off int, mask byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= mask
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestTornTailIsTruncated(t *testing.T) {
	whole := appendMessage(nil, 11, 0, &Message{Topic: "t/torn", Payload: []byte("a payload that never fully made it"), QoS: 1})
	cases := map[string]func(t *testing.T, dir, last string){
		"half a record": func(t *testing.T, _, last string) { appendToFile(t, last, whole[:len(whole)/2]) },
		"header only":   func(t *testing.T, _, last string) { appendToFile(t, last, whole[:frameHeaderLen]) },
		"zeros":         func(t *testing.T, _, last string) { appendToFile(t, last, make([]byte, 4096)) },
		"garbage":       func(t *testing.T, _, last string) { appendToFile(t, last, bytes.Repeat([]byte{0xff, 0x13}, 300)) },
		"whole record, bad crc": func(t *testing.T, _, last string) {
			bad := slices.Clone(whole)
			bad[len(bad)-1] ^= 1
			appendToFile(t, last, bad)
		},
		"half a new segment header": func(t *testing.T, dir, _ string) {
			appendToFile(t, filepath.Join(dir, segName(99)), appendSegHeader(nil, 11)[:7])
		},
		"zero-filled new segment": func(t *testing.T, dir, _ string) {
			appendToFile(t, filepath.Join(dir, segName(99)), make([]byte, 512))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := []Option{WithSync(SyncNever)}
			ob := openT(t, dir, opts...)
			appendT(t, ob, 0, 10)
			closeT(t, ob)
			files := segFiles(t, dir)
			last := files[len(files)-1]
			size := fileSize(t, last)
			damage(t, dir, last)

			ob = openT(t, dir, opts...)
			wantSeqs(t, "recovered", seqsOf(drain(t, ob)), span64(1, 11))
			st := ob.Stats()
			if st.TornTails != 1 || st.Corruptions != 0 || st.Recovered != 10 || len(ob.RecoveryErrors()) != 0 {
				t.Fatalf("stats %+v, errors %v", st, ob.RecoveryErrors())
			}
			if got := fileSize(t, last); got != size {
				t.Fatalf("%s is %d bytes after recovery, was %d before the damage", last, got, size)
			}
			if seq := appendT(t, ob, 10, 11)[0]; seq != 11 {
				t.Fatalf("next seq %d, want 11", seq)
			}
			closeT(t, ob)
			ob = openT(t, dir, opts...)
			wantSeqs(t, "second reopen", seqsOf(drain(t, ob)), span64(1, 12))
			if st := ob.Stats(); st.TornTails != 0 {
				t.Fatalf("the repair did not stick: %+v", st)
			}
		})
	}
}

func TestDamageInTheMiddle(t *testing.T) {
	cases := map[string]int{ // byte of record 10 to flip, from its start
		"payload": 40, "length": 1, "crc": 5, "kind": frameHeaderLen, "topic length": frameHeaderLen + 19,
	}
	for name, at := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := []Option{WithSync(SyncNever)}
			ob := openT(t, dir, opts...)
			appendT(t, ob, 0, 30)
			closeT(t, ob)
			path := segFiles(t, dir)[0]
			off := recordOffsets(t, path)[9]
			before, _ := os.ReadFile(path)
			flipByte(t, path, off+at, 0x40)

			ob = openT(t, dir, opts...)
			wantSeqs(t, "kept", seqsOf(drain(t, ob)), span64(1, 10))
			errs := ob.RecoveryErrors()
			var ce *CorruptError
			if len(errs) != 1 || !errors.As(errs[0], &ce) {
				t.Fatalf("RecoveryErrors = %v, want one *CorruptError", errs)
			}
			if ce.Path != path || ce.Offset != int64(off) || ce.Lost != int64(len(before)-off) {
				t.Fatalf("CorruptError %+v; want path %s, offset %d", ce, path, off)
			}
			if msg := ce.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "offset") {
				t.Fatalf("error text %q names neither file nor offset", msg)
			}
			saved, err := os.ReadFile(ce.SavedAs)
			if err != nil {
				t.Fatalf("the damaged part was not saved: %v", err)
			}
			want := slices.Clone(before[off:])
			want[at] ^= 0x40
			if !bytes.Equal(saved, want) {
				t.Fatalf("saved part differs from the file's tail")
			}
			if st := ob.Stats(); st.Corruptions != 1 || st.TornTails != 0 {
				t.Fatalf("stats %+v", st)
			}
			// Lost messages' sequence numbers are not handed out again.
			if seq := appendT(t, ob, 30, 31)[0]; seq != 31 {
				t.Fatalf("next seq %d, want 31", seq)
			}
			closeT(t, ob)
			ob = openT(t, dir, opts...)
			wantSeqs(t, "second reopen", seqsOf(drain(t, ob)), append(span64(1, 10), 31))
			if len(ob.RecoveryErrors()) != 0 {
				t.Fatalf("the repair did not stick: %v", ob.RecoveryErrors())
			}
		})
	}
}

func TestDamageInAnOlderSegmentKeepsLaterOnes(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncNever), WithSegmentSize(4096)}
	ob := openT(t, dir, opts...)
	appendT(t, ob, 0, 300)
	closeT(t, ob)
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("want 3+ segments, have %d", len(files))
	}
	offs := recordOffsets(t, files[0])
	flipByte(t, files[0], offs[5]+30, 0x01)

	ob = openT(t, dir, opts...)
	got := seqsOf(drain(t, ob))
	lostFrom, lostTo := uint64(6), uint64(len(offs)+1) // the rest of the first segment
	want := append(span64(1, lostFrom), span64(lostTo, 301)...)
	wantSeqs(t, "kept", got, want)
	if len(ob.RecoveryErrors()) != 1 {
		t.Fatalf("RecoveryErrors %v", ob.RecoveryErrors())
	}
}

func TestStrictRecoveryChangesNothing(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncNever))
	appendT(t, ob, 0, 20)
	closeT(t, ob)
	path := segFiles(t, dir)[0]
	flipByte(t, path, recordOffsets(t, path)[3]+20, 0x08)
	appendToFile(t, path, []byte{1, 2, 3}) // and a torn tail
	before, _ := os.ReadFile(path)

	_, err := Open(dir, WithSync(SyncNever), WithStrictRecovery())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || ce.SavedAs != "" {
		t.Fatalf("strict Open: %v; want a *CorruptError for %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("strict Open changed the segment")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.corrupt*")); len(m) != 0 {
		t.Fatalf("strict Open saved files: %v", m)
	}
	ob = openT(t, dir, WithSync(SyncNever)) // the lock was released
	wantSeqs(t, "lenient reopen", seqsOf(drain(t, ob)), span64(1, 4))
}

func TestDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithSync(SyncNever), WithSegmentSize(4096)}
	ob := openT(t, dir, opts...)
	appendT(t, ob, 0, 600)
	for s := uint64(1); s <= 600; s++ {
		if s != 50 && (s < 550 || s%10 != 0) { // 50 pins its segment; acks of later ones reach the checkpoint
			if err := ob.Ack(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeT(t, ob) // compacts: the checkpoint exists now
	cp := filepath.Join(dir, checkpointName)
	flipByte(t, cp, 10, 0x10)

	ob = openT(t, dir, opts...)
	var ce *CorruptError
	if errs := ob.RecoveryErrors(); len(errs) != 1 || !errors.As(errs[0], &ce) || ce.Path != cp {
		t.Fatalf("RecoveryErrors %v; want the checkpoint reported", errs)
	}
	// Without the checkpoint, acks it held may be forgotten (a duplicate
	// send), but no unacknowledged message may be missing.
	got := seqsOf(drain(t, ob))
	for _, s := range []uint64{50, 550, 560, 570, 580, 590, 600} {
		if _, ok := slices.BinarySearch(got, s); !ok {
			t.Fatalf("unacknowledged %d missing from %v", s, got)
		}
	}
	if !slices.IsSorted(got) {
		t.Fatalf("out of order: %v", got)
	}
}

func TestForeignFileInSegmentName(t *testing.T) {
	dir := t.TempDir()
	ob := openT(t, dir, WithSync(SyncNever))
	appendT(t, ob, 0, 3)
	closeT(t, ob)
	stranger := filepath.Join(dir, segName(77))
	if err := os.WriteFile(stranger, []byte("this is not an outbox segment, but it is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	ob = openT(t, dir, WithSync(SyncNever))
	wantSeqs(t, "kept", seqsOf(drain(t, ob)), span64(1, 4))
	var ce *CorruptError
	if errs := ob.RecoveryErrors(); len(errs) != 1 || !errors.As(errs[0], &ce) || ce.Path != stranger || ce.SavedAs == "" {
		t.Fatalf("RecoveryErrors %v", errs)
	}
}

func TestDamageFoundAfterOpenDropsTheMessage(t *testing.T) {
	dir := t.TempDir()
	var lost []uint64
	ob := openT(t, dir, WithSync(SyncNever), WithOnDrop(func(m Message) { lost = append(lost, m.Seq) }))
	appendT(t, ob, 0, 5)
	path := segFiles(t, dir)[0]
	flipByte(t, path, recordOffsets(t, path)[2]+30, 0x02) // under the open outbox's feet
	wantSeqs(t, "readable", seqsOf(drain(t, ob)), []uint64{1, 2, 4, 5})
	wantSeqs(t, "dropped", lost, []uint64{3})
	if st := ob.Stats(); st.Dropped != 1 || st.Pending != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// Garbage in which every third offset looks like the start of a 66 KiB
// message would make a naive resync checksum terabytes; it must give up
// early and call the damage damage.
func TestResyncIsBounded(t *testing.T) {
	data := appendSegHeader(nil, 1)
	data = appendMessage(data, 1, 0, &Message{Topic: "a", Payload: []byte("ok"), QoS: 1})
	good := len(data)
	data = append(data, bytes.Repeat([]byte{0, 0x02, kindMessage}, 3<<20)...)
	n := 0
	res := scanSegment(data, func(record, int, int) { n++ })
	if n != 1 || res.valid != good || res.err == nil || res.torn {
		t.Fatalf("scan: %d records, valid %d (want %d), err %v, torn %v", n, res.valid, good, res.err, res.torn)
	}
	if top := maxSeqFrom(data, good); top != 0 {
		t.Fatalf("maxSeqFrom found seq %d in garbage", top)
	}
}
