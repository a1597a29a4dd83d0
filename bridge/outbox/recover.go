package outbox

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// scanned is what the first, read-only pass of recovery learned about one
// segment file.
type scanned struct {
	id   uint64
	path string
	size int64 // file size
	res  scanResult
}

// found is a message record seen during recovery.
type found struct {
	seq      uint64
	seg      int // index into the scanned segments
	off      int64
	size     int32
	deadline int64  // unix ns, for a message with a MaxAge
	latest   string // the topic of a Latest message
}

// recover rebuilds the in-memory state from the directory. A first pass
// only reads, so that WithStrictRecovery can refuse without changing a byte;
// the second repairs (truncates torn tails, moves damaged parts aside).
func (o *Outbox) recover() error {
	if err := os.Remove(filepath.Join(o.dir, checkpointTmp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("outbox: %w", err)
	}
	cpPath := filepath.Join(o.dir, checkpointName)
	cp := checkpoint{next: 1}
	var cpErr *CorruptError
	switch data, err := os.ReadFile(cpPath); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("outbox: %w", err)
	default:
		if c, err := decodeCheckpoint(data); err != nil {
			cpErr = &CorruptError{Path: cpPath, Reason: err.Error(), Lost: int64(len(data))}
		} else {
			cp = c
		}
	}

	dirents, err := os.ReadDir(o.dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	var segs []scanned
	for _, de := range dirents {
		if id, ok := parseSegName(de.Name()); ok && de.Type().IsRegular() {
			segs = append(segs, scanned{id: id, path: filepath.Join(o.dir, de.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b scanned) int { return cmp.Compare(a.id, b.id) })

	var msgs []found
	var done []span // sequence numbers acknowledged or dropped
	from := uint64(1)
	for _, sp := range cp.pending {
		if from < sp.from {
			done = append(done, span{from, sp.from})
		}
		from = sp.to
	}
	if from < cp.next {
		done = append(done, span{from, cp.next})
	}
	next := max(cp.next, 1)
	var corrupt []*CorruptError
	if cpErr != nil {
		corrupt = append(corrupt, cpErr)
	}
	var buf []byte // one buffer for all segments: they are read one at a time
	for i := range segs {
		s := &segs[i]
		data, err := readFileInto(buf, s.path)
		if err != nil {
			return fmt.Errorf("outbox: read segment: %w", err)
		}
		buf = data
		s.size = int64(len(data))
		s.res = scanSegment(data, func(r record, off, size int) {
			if r.kind == kindMessage {
				f := found{seq: r.seq, seg: i, off: int64(off), size: int32(size)}
				if r.maxAge > 0 {
					f.deadline = r.queued + r.maxAge
				}
				if r.latest {
					f.latest = string(r.topic)
				}
				msgs = append(msgs, f)
				next = max(next, r.seq+1)
				return
			}
			end := r.seq + uint64(r.count)
			done = append(done, span{r.seq, end})
			next = max(next, end)
		})
		next = max(next, s.res.firstSeq)
		if s.res.err != nil && !s.res.torn {
			// Records past the damage are lost, but their sequence numbers
			// must not be handed out again: skip past any still legible.
			next = max(next, maxSeqFrom(data, s.res.valid+1)+1)
			corrupt = append(corrupt, &CorruptError{
				Path: s.path, Offset: int64(s.res.valid), Reason: s.res.err.Error(), Lost: s.size - int64(s.res.valid),
			})
		}
	}
	if o.opts.strict && len(corrupt) > 0 {
		return corrupt[0]
	}

	// Repair. From here on the directory changes.
	durable := o.opts.sync != SyncNever
	if cpErr != nil {
		cpErr.SavedAs = cpPath + ".corrupt"
		if err := os.Rename(cpPath, cpErr.SavedAs); err != nil {
			return fmt.Errorf("outbox: move damaged checkpoint aside: %w", err)
		}
	}
	for _, ce := range corrupt {
		if ce != cpErr {
			if err := o.saveDamaged(ce, durable); err != nil {
				return err
			}
		}
		o.recErrs = append(o.recErrs, ce)
		o.st.Corruptions++
		o.log.Error("outbox: damaged state repaired; data after the damage moved aside", "err", ce)
	}
	segAt := make([]*segment, len(segs))
	for i := range segs {
		s := &segs[i]
		valid := int64(s.res.valid)
		if s.res.err != nil && s.res.torn {
			o.st.TornTails++
			o.log.Warn("outbox: truncating torn tail", "path", s.path, "offset", valid, "bytes", s.size-valid, "reason", s.res.err)
		}
		o.nextSegID = s.id + 1
		if valid < segHeaderLen {
			// No usable header, so no records: nothing to keep.
			if err := os.Remove(s.path); err != nil {
				return fmt.Errorf("outbox: remove empty segment: %w", err)
			}
			continue
		}
		if valid < s.size {
			if err := os.Truncate(s.path, valid); err != nil {
				return fmt.Errorf("outbox: truncate damaged segment: %w", err)
			}
		}
		f, err := os.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("outbox: open segment: %w", err)
		}
		var sf segFile = f
		if o.opts.wrap != nil {
			sf = o.opts.wrap(f)
		}
		seg := &segment{id: s.id, path: s.path, f: sf, size: valid}
		segAt[i] = seg
		o.segs = append(o.segs, seg)
		o.diskBytes += valid
	}

	// Order the messages; a message copied forward by compaction may appear
	// twice, and the later copy (higher segment id) is the current one.
	slices.SortFunc(msgs, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.seg, b.seg))
	})
	slices.SortFunc(done, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	d, reach := 0, uint64(0) // done[:d] are behind; every seq < reach among them is done
	for i, m := range msgs {
		if i+1 < len(msgs) && msgs[i+1].seq == m.seq {
			continue
		}
		for d < len(done) && done[d].from <= m.seq {
			reach = max(reach, done[d].to)
			d++
		}
		if m.seq < reach {
			continue
		}
		seg := segAt[m.seg]
		o.entries = append(o.entries, entry{seq: m.seq, seg: seg, off: m.off, size: m.size, deadline: m.deadline})
		if m.latest != "" {
			if o.latest == nil {
				o.latest = map[string]uint64{}
			}
			o.latest[m.latest] = m.seq
		}
		seg.live++
		seg.liveBytes += int64(m.size)
		o.pending++
		o.pendBytes += int64(m.size)
	}
	o.st.Recovered = o.pending
	o.nextSeq = next
	if o.nextSegID == 0 {
		o.nextSegID = 1
	}
	if len(o.segs) == 0 || o.active().size >= o.opts.segSize {
		if err := o.newSegment(); err != nil {
			return err
		}
	}
	if o.st.Recovered > 0 || o.st.TornTails > 0 {
		o.log.Info("outbox: recovered", "dir", o.dir, "pending", o.pending, "next_seq", o.nextSeq, "torn_tails", o.st.TornTails)
	}
	return nil
}

// saveDamaged moves the bytes from the damaged offset to the end of the
// file into a .corrupt file beside it, for whoever wants to look.
func (o *Outbox) saveDamaged(ce *CorruptError, durable bool) error {
	data, err := os.ReadFile(ce.Path)
	if err != nil {
		return fmt.Errorf("outbox: read damaged segment: %w", err)
	}
	if ce.Offset >= int64(len(data)) {
		return nil
	}
	name := fmt.Sprintf("%s.corrupt-%d", filepath.Base(ce.Path), ce.Offset)
	if err := writeFileAtomic(o.dir, name+".tmp", name, data[ce.Offset:], durable); err != nil {
		return fmt.Errorf("outbox: save damaged part: %w", err)
	}
	ce.SavedAs = filepath.Join(o.dir, name)
	return nil
}

// readFileInto reads the file at path into buf, growing it if needed.
func readFileInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, nil
}
