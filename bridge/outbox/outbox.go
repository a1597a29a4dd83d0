package outbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// Message is one queued MQTT publish.
type Message struct {
	Seq     uint64    // assigned by Append: increasing, never reused, survives restarts
	Queued  time.Time // when Append took it
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool

	// Latest marks a message that only matters until a newer one on its
	// topic is queued: appending another Latest message on the same topic
	// drops this one if it is still undelivered (counted in
	// Stats.Superseded). For states, where replaying old values after an
	// outage is noise.
	Latest bool
	// MaxAge, when positive, is how long the message stays worth sending:
	// Next drops it, counted in Stats.Expired, instead of returning it once
	// it is older than that. For events that would do harm late. Ages are
	// measured on the outbox's clock (WithClock), which must be the wall
	// clock for them to survive a restart.
	MaxAge time.Duration
}

// Stats is a snapshot of an Outbox's state and its counters since Open.
type Stats struct {
	Pending      int    // messages not yet acknowledged (nor dropped)
	PendingBytes int64  // their records' size, bounded by WithMaxBytes
	DiskBytes    int64  // all segment files together
	Segments     int    // segment files
	NextSeq      uint64 // the sequence number the next Append assigns

	Queued     uint64 // Appends accepted
	Delivered  uint64 // messages acknowledged
	Dropped    uint64 // messages evicted by DropOldest or found unreadable
	Rejected   uint64 // Appends refused with ErrFull or ErrTooLarge
	Superseded uint64 // Latest messages replaced by a newer one on their topic before delivery
	Expired    uint64 // messages older than their MaxAge when they could be sent

	Recovered   int // unacknowledged messages Open found on disk
	TornTails   int // torn tails Open truncated
	Corruptions int // damaged regions Open moved aside (see RecoveryErrors)
}

// entry is the in-memory index of one message: where its record is.
type entry struct {
	seq      uint64
	seg      *segment
	off      int64
	deadline int64 // unix ns after which it is not sent (MaxAge); 0: none
	size     int32
	acked    bool // acknowledged or dropped; kept only until the prefix before it clears
}

// Outbox is a persistent queue of outgoing messages. Its methods are safe
// for concurrent use.
type Outbox struct {
	dir   string
	opts  options
	log   *slog.Logger
	lockF *os.File

	mu        sync.Mutex
	segs      []*segment // by id; the last one is written to
	entries   []entry    // entries[head:] by seq: every message not yet done, and some done
	head      int
	pending   int
	pendBytes int64
	diskBytes int64
	nextSeq   uint64
	nextSegID uint64
	cursor    uint64            // Next returns messages with seq ≥ cursor
	latest    map[string]uint64 // topic → seq of its newest Latest message (maybe done since)
	gen       uint64            // counts writes, so a group commit knows what it covered
	buf       []byte
	broken    error
	closed    bool
	st        Stats // counters only; the gauges are computed in Stats()
	recErrs   []error

	smu     sync.Mutex // group commit; may be taken while holding mu, never the reverse
	scond   *sync.Cond
	syncing bool
	synced  uint64
	serr    error

	notify chan struct{}
	dirty  chan struct{} // a write since the background sync last looked (SyncInterval)
	stop   chan struct{}
	done   chan struct{}
}

// Open opens, or creates, the outbox kept in dir, recovering whatever a
// previous run left there. The directory is created (mode 0700) if needed.
//
// Damage in the middle of a segment does not make Open fail (unless
// WithStrictRecovery): it is repaired and reported by RecoveryErrors. Open
// fails for a bad or unreadable directory, a directory locked by another
// Outbox (ErrLocked), a bad option (ErrInvalid), or an I/O error; each error
// names the path.
func Open(dir string, opts ...Option) (*Outbox, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty state directory", ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: state directory: %w", err)
	}
	lockF, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: state directory: %w", err)
	}
	if err := lockFile(lockF); err != nil {
		_ = lockF.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s is locked by another outbox", ErrLocked, dir)
		}
		return nil, fmt.Errorf("outbox: lock %s: %w", lockF.Name(), err)
	}
	ob := &Outbox{
		dir:    dir,
		opts:   o,
		log:    o.logger,
		lockF:  lockF,
		notify: make(chan struct{}, 1),
	}
	ob.scond = sync.NewCond(&ob.smu)
	if err := ob.recover(); err != nil {
		ob.closeFiles()
		return nil, err
	}
	ob.mu.Lock()
	if err := ob.compactLocked(); err != nil {
		ob.log.Warn("outbox: compaction at open failed; will retry", "dir", dir, "err", err)
	}
	ob.mu.Unlock()
	if o.sync > 0 {
		ob.stop, ob.done, ob.dirty = make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
		go ob.syncLoop(time.Duration(o.sync))
	}
	if ob.pending > 0 {
		ob.signal()
	}
	return ob, nil
}

// Append queues m and returns its sequence number; m.Seq and m.Queued
// are ignored and assigned. The record has been written to the log
// (write(2)) when Append returns, and fsynced too under SyncAlways.
//
// A Latest message drops the undelivered Latest message queued before it on
// the same topic, in the same write. When a bound is reached, DropOldest
// evicts the oldest unacknowledged messages (even ones in flight: a late Ack
// for them is ignored) and RejectNew returns ErrFull. A message that alone
// exceeds WithMaxBytes gets ErrTooLarge; a bad topic, QoS or MaxAge gets
// ErrInvalid.
//
// If the record was written but the fsync SyncAlways asks for failed, Append
// returns its sequence number with an ErrBroken error: the message may or may
// not survive a power loss, and the Outbox must be reopened.
func (o *Outbox) Append(m Message) (uint64, error) {
	if err := validateMessage(m.Topic, len(m.Payload), m.QoS); err != nil {
		return 0, fmt.Errorf("%w: append: %w", ErrInvalid, err)
	}
	if m.MaxAge < 0 {
		return 0, fmt.Errorf("%w: append to %q: negative MaxAge %v", ErrInvalid, m.Topic, m.MaxAge)
	}
	size := messageRecordSize(len(m.Topic), len(m.Payload), m.MaxAge > 0)
	o.mu.Lock()
	seq, gen, dropped, err := o.appendLocked(&m, size)
	o.mu.Unlock()
	o.reportDrops(dropped)
	if err != nil {
		return 0, err
	}
	o.signal()
	if o.opts.sync == SyncAlways {
		if err := o.syncTo(gen); err != nil {
			return seq, err
		}
	}
	return seq, nil
}

func (o *Outbox) appendLocked(m *Message, size int64) (seq, gen uint64, dropped []Message, err error) {
	if err := o.usableLocked(); err != nil {
		return 0, 0, nil, err
	}
	if size > o.opts.maxBytes {
		o.st.Rejected++
		return 0, 0, nil, fmt.Errorf("%w: append to %q: record of %d bytes, limit %d", ErrTooLarge, m.Topic, size, o.opts.maxBytes)
	}
	if o.nextSeq == math.MaxUint64 {
		return 0, 0, nil, fmt.Errorf("%w: append: sequence numbers exhausted in %s", ErrBroken, o.dir)
	}
	cnt, bytes, i := o.pending, o.pendBytes, o.head
	// The Latest message this one replaces, if still pending, goes first:
	// it makes room too.
	superseded := -1
	if m.Latest {
		if old, ok := o.latest[m.Topic]; ok {
			if j := o.search(old); j < len(o.entries) && o.entries[j].seq == old && !o.entries[j].acked {
				superseded = j
				cnt--
				bytes -= int64(o.entries[j].size)
			}
		}
	}
	// Make room. size ≤ maxBytes and maxCount ≥ 1, so the loop stops before
	// it runs out of messages to evict.
	var victims []int
	for cnt+1 > o.opts.maxCount || bytes+size > o.opts.maxBytes {
		if o.opts.overflow == RejectNew {
			o.st.Rejected++
			return 0, 0, nil, fmt.Errorf("%w: append to %q: %d messages, %d of %d bytes", ErrFull, m.Topic, o.pending, o.pendBytes, o.opts.maxBytes)
		}
		for o.entries[i].acked || i == superseded {
			i++
		}
		victims = append(victims, i)
		cnt--
		bytes -= int64(o.entries[i].size)
		i++
	}
	marks := victims
	if superseded >= 0 {
		marks = append(slices.Clone(victims), superseded)
		slices.Sort(marks)
	}
	buf := o.appendDropMarks(o.buf[:0], marks)
	markLen := int64(len(buf))
	seq = o.nextSeq
	queued := o.opts.now().UnixNano()
	buf = appendMessage(buf, seq, queued, m)
	o.keepBuf(buf)
	if o.opts.onDrop != nil {
		for _, v := range victims {
			dropped = append(dropped, o.readForReport(o.entries[v]))
		}
	}
	off, err := o.writeLocked(buf)
	if err != nil {
		return 0, 0, nil, err
	}
	for _, v := range victims {
		o.finish(v)
		o.st.Dropped++
		o.log.Debug("outbox: dropped oldest message", "seq", o.entries[v].seq)
	}
	if superseded >= 0 {
		o.finish(superseded)
		o.st.Superseded++
	}
	if m.Latest {
		o.rememberLatest(m.Topic, seq)
	}
	var deadline int64
	if m.MaxAge > 0 {
		deadline = queued + int64(m.MaxAge)
	}
	o.nextSeq++
	act := o.active()
	o.entries = append(o.entries, entry{seq: seq, seg: act, off: off + markLen, size: int32(size), deadline: deadline})
	act.live++
	act.liveBytes += size
	o.pending++
	o.pendBytes += size
	o.st.Queued++
	gen = o.gen
	o.popDone()
	o.maybeRotate()
	return seq, gen, dropped, nil
}

// Next returns up to max unacknowledged messages, in sequence order,
// starting at the cursor, and moves the cursor past them. Messages stay
// queued until acknowledged; after Rewind (or a new Open) Next returns them
// again. It returns no messages and no error when nothing is pending beyond
// the cursor: wait on Notify.
func (o *Outbox) Next(max int) ([]Message, error) {
	if max <= 0 {
		return nil, nil
	}
	o.mu.Lock()
	msgs, lost, err := o.nextLocked(max)
	o.mu.Unlock()
	o.reportDrops(lost)
	return msgs, err
}

func (o *Outbox) nextLocked(max int) ([]Message, []Message, error) {
	if err := o.usableLocked(); err != nil {
		return nil, nil, err
	}
	i := o.search(o.cursor)
	var pick, expired []int
	now := int64(0)
	for ; i < len(o.entries) && len(pick) < max; i++ {
		e := &o.entries[i]
		if e.acked {
			continue
		}
		if e.deadline != 0 {
			if now == 0 {
				now = o.opts.now().UnixNano()
			}
			if now > e.deadline {
				expired = append(expired, i)
				continue
			}
		}
		pick = append(pick, i)
	}
	if len(expired) > 0 {
		if err := o.expireLocked(expired); err != nil {
			return nil, nil, err
		}
	}
	if len(pick) == 0 {
		o.popDone()
		return nil, nil, nil
	}
	msgs, bad, err := o.readEntries(pick)
	if err != nil {
		return nil, nil, err
	}
	o.cursor = o.entries[pick[len(pick)-1]].seq + 1
	lost := o.dropUnreadable(bad)
	o.popDone()
	return msgs, lost, nil
}

// appendDropMarks appends drop records for the entries at idx (ascending),
// one record per run of consecutive sequence numbers.
func (o *Outbox) appendDropMarks(buf []byte, idx []int) []byte {
	for j := 0; j < len(idx); {
		k := j
		for k+1 < len(idx) && o.entries[idx[k+1]].seq == o.entries[idx[k]].seq+1 {
			k++
		}
		buf = appendMark(buf, kindDrop, o.entries[idx[j]].seq, uint32(k-j+1))
		j = k + 1
	}
	return buf
}

// rememberLatest notes seq as topic's newest Latest message. The map forgets
// topics whose message is done once they outnumber the pending messages, so
// topics that come and go do not pile up.
func (o *Outbox) rememberLatest(topic string, seq uint64) {
	if o.latest == nil {
		o.latest = map[string]uint64{}
	}
	o.latest[topic] = seq
	if len(o.latest) <= 2*o.pending+64 {
		return
	}
	for t, s := range o.latest {
		if j := o.search(s); j == len(o.entries) || o.entries[j].seq != s || o.entries[j].acked {
			delete(o.latest, t)
		}
	}
}

// expireLocked drops the entries at idx (ascending), which are past their
// MaxAge, with one write.
func (o *Outbox) expireLocked(idx []int) error {
	buf := o.appendDropMarks(o.buf[:0], idx)
	o.keepBuf(buf)
	if _, err := o.writeLocked(buf); err != nil {
		return err
	}
	for _, i := range idx {
		o.finish(i)
		o.st.Expired++
		o.log.Debug("outbox: message expired", "seq", o.entries[i].seq)
	}
	o.maybeRotate()
	return nil
}

// Ack marks a message delivered; the outbox never returns it again, not
// even after a restart. Acks may come in any order. Acknowledging a message
// already acknowledged or dropped does nothing; a sequence number never
// assigned gets ErrUnknownSeq. Under SyncAlways the ack is fsynced before Ack
// returns; otherwise a power loss may forget it and the message is sent
// again (at least once, never lost).
func (o *Outbox) Ack(seq uint64) error {
	o.mu.Lock()
	gen, err := o.ackLocked(seq)
	o.mu.Unlock()
	if err != nil || gen == 0 || o.opts.sync != SyncAlways {
		return err
	}
	return o.syncTo(gen)
}

func (o *Outbox) ackLocked(seq uint64) (uint64, error) {
	if err := o.usableLocked(); err != nil {
		return 0, err
	}
	if seq == 0 || seq >= o.nextSeq {
		return 0, fmt.Errorf("%w: ack %d (next is %d)", ErrUnknownSeq, seq, o.nextSeq)
	}
	i := o.search(seq)
	if i == len(o.entries) || o.entries[i].seq != seq || o.entries[i].acked {
		return 0, nil
	}
	buf := appendMark(o.buf[:0], kindAck, seq, 1)
	o.keepBuf(buf)
	if _, err := o.writeLocked(buf); err != nil {
		return 0, err
	}
	o.finish(i)
	o.st.Delivered++
	gen := o.gen
	o.popDone()
	o.maybeRotate()
	return gen, nil
}

// Rewind moves the cursor back to the oldest unacknowledged message, so
// that Next returns everything not yet acknowledged again: call it when the
// connection comes back, since what was in flight may never have arrived.
func (o *Outbox) Rewind() {
	o.mu.Lock()
	o.cursor = 0
	o.mu.Unlock()
	o.signal()
}

// Notify returns a channel that receives a value after an Append or a
// Rewind (and after Open when messages were recovered): a cue for one
// consumer to call Next. Signals coalesce; drain with Next until it returns
// nothing before waiting again.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// Stats returns a snapshot of the state and counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.st
	s.Pending, s.PendingBytes = o.pending, o.pendBytes
	s.DiskBytes, s.Segments, s.NextSeq = o.diskBytes, len(o.segs), o.nextSeq
	return s
}

// RecoveryErrors returns what Open found damaged and repaired, one
// *CorruptError each; nil after a clean open. Torn tails are not listed:
// they are the normal trace of a crash, counted in Stats.TornTails.
func (o *Outbox) RecoveryErrors() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]error(nil), o.recErrs...)
}

// Sync forces everything written so far to stable storage, whatever the
// policy (for instance before a planned power-off under SyncNever).
func (o *Outbox) Sync() error {
	o.mu.Lock()
	if err := o.usableLocked(); err != nil {
		o.mu.Unlock()
		return err
	}
	segs, gen := append([]*segment(nil), o.segs...), o.gen
	o.mu.Unlock()
	for _, s := range segs {
		if err := s.sync(); err != nil {
			return o.failSync(err)
		}
	}
	if err := syncDir(o.dir); err != nil {
		return o.failSync(err)
	}
	o.smu.Lock()
	o.synced = max(o.synced, gen)
	o.smu.Unlock()
	return nil
}

// Close deletes fully acknowledged segments, fsyncs (unless SyncNever),
// closes the files and releases the directory. Later calls return ErrClosed;
// a second Close returns nil.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	var errs []error
	if o.usableLocked() == nil {
		if err := o.compactLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	o.closed = true
	broken, gen := o.broken, o.gen
	o.mu.Unlock()
	if o.stop != nil {
		close(o.stop)
		<-o.done
	}
	if o.opts.sync != SyncNever && broken == nil {
		if err := o.syncTo(gen); err != nil {
			errs = append(errs, err)
		}
	}
	o.closeFiles()
	return errors.Join(errs...)
}

func (o *Outbox) closeFiles() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.segs {
		if err := s.close(); err != nil {
			o.log.Warn("outbox: close segment", "path", s.path, "err", err)
		}
	}
	_ = o.lockF.Close()
}

func (o *Outbox) signal() {
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

func (o *Outbox) reportDrops(ms []Message) {
	for _, m := range ms {
		o.opts.onDrop(m)
	}
}

func (o *Outbox) usableLocked() error {
	if o.closed {
		return ErrClosed
	}
	if o.broken != nil {
		return o.broken
	}
	o.smu.Lock()
	defer o.smu.Unlock()
	return o.serr
}

func (o *Outbox) active() *segment { return o.segs[len(o.segs)-1] }

// keepBuf keeps the encode buffer for reuse unless a huge message grew it.
func (o *Outbox) keepBuf(b []byte) {
	if cap(b) <= 1<<20 {
		o.buf = b[:0]
	} else {
		o.buf = nil
	}
}

// search returns the index of the first entry with seq ≥ s.
func (o *Outbox) search(s uint64) int {
	return o.head + sort.Search(len(o.entries)-o.head, func(i int) bool { return o.entries[o.head+i].seq >= s })
}

// finish takes entry i out of the pending set.
func (o *Outbox) finish(i int) {
	e := &o.entries[i]
	e.acked = true
	e.seg.live--
	e.seg.liveBytes -= int64(e.size)
	o.pending--
	o.pendBytes -= int64(e.size)
}

// popDone forgets done entries: at once when they are a prefix, and in a
// sweep once they outnumber the pending ones (an old message never acked
// would otherwise keep every later entry in memory). Both cost O(1)
// amortized.
func (o *Outbox) popDone() {
	for o.head < len(o.entries) && o.entries[o.head].acked {
		o.head++
	}
	switch {
	case o.head == len(o.entries):
		clear(o.entries)
		o.entries, o.head = o.entries[:0], 0
	case len(o.entries)-o.head > 2*o.pending+1024:
		live := o.entries[:0]
		for _, e := range o.entries[o.head:] {
			if !e.acked {
				live = append(live, e)
			}
		}
		clear(o.entries[len(live):])
		o.entries, o.head = live, 0
	case o.head >= 1024 && 2*o.head >= len(o.entries):
		n := copy(o.entries, o.entries[o.head:])
		clear(o.entries[n:])
		o.entries, o.head = o.entries[:n], 0
	}
}

// writeLocked appends b to the active segment with one write(2). A failed
// write is cut back off, so the log never has half a record in the middle.
func (o *Outbox) writeLocked(b []byte) (int64, error) {
	act := o.active()
	off := act.size
	n, err := act.f.WriteAt(b, off)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			if terr := act.f.Truncate(off); terr != nil {
				o.broken = fmt.Errorf("%w: cannot undo a partial write to %s: %w", ErrBroken, act.path, terr)
			}
		}
		return 0, fmt.Errorf("outbox: write %s: %w", act.path, err)
	}
	act.size += int64(n)
	o.diskBytes += int64(n)
	o.gen++
	if o.dirty != nil {
		select {
		case o.dirty <- struct{}{}:
		default: // already told
		}
	}
	return off, nil
}

// maybeRotate starts a new segment once the active one is full, then
// compacts. A failure here does not fail the caller, whose record is
// written: it is logged, and tried again on the next write.
func (o *Outbox) maybeRotate() {
	act := o.active()
	if act.size < o.opts.segSize {
		return
	}
	if o.opts.sync != SyncNever {
		// Older segments are always on disk, so a group commit syncs only
		// the active one.
		if err := act.sync(); err != nil {
			o.broken = fmt.Errorf("%w: %w", ErrBroken, err)
			return
		}
		o.smu.Lock()
		o.synced = max(o.synced, o.gen)
		o.smu.Unlock()
	}
	if err := o.newSegment(); err != nil {
		o.log.Warn("outbox: cannot start a new segment; still writing the old one", "err", err)
		return
	}
	if err := o.compactLocked(); err != nil {
		o.log.Warn("outbox: compaction failed; will retry", "dir", o.dir, "err", err)
	}
}

func (o *Outbox) newSegment() error {
	id := o.nextSegID
	path := filepath.Join(o.dir, segName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: new segment: %w", err)
	}
	var sf segFile = f
	if o.opts.wrap != nil {
		sf = o.opts.wrap(f)
	}
	hdr := appendSegHeader(nil, o.nextSeq)
	_, err = sf.WriteAt(hdr, 0)
	if err == nil && o.opts.sync != SyncNever {
		if err = sf.Sync(); err == nil {
			err = syncDir(o.dir)
		}
	}
	if err != nil {
		_ = sf.Close()
		_ = os.Remove(path)
		return fmt.Errorf("outbox: new segment %s: %w", path, err)
	}
	o.nextSegID++
	o.segs = append(o.segs, &segment{id: id, path: path, f: sf, size: segHeaderLen})
	o.diskBytes += segHeaderLen
	return nil
}

// diskLimit is the disk use above which compaction copies the live
// messages out of mostly-dead segments.
func (o *Outbox) diskLimit() int64 { return 2*o.opts.maxBytes + o.opts.segSize }

// compactLocked deletes segments (other than the active one) that hold no
// pending message, first saving the acknowledgement state in the
// checkpoint, since acks recorded in those segments may concern messages in
// others. When disk use is over diskLimit — an old message never acked pins
// its segment — it first copies the pending messages of the emptiest
// segments forward into the active one.
func (o *Outbox) compactLocked() error {
	act := o.active()
	old := o.segs[:len(o.segs)-1]
	var reclaim int64
	for _, s := range old {
		if s.live == 0 {
			reclaim += s.size
		}
	}
	copied := false
	for o.diskBytes-reclaim > o.diskLimit() {
		var victim *segment
		for _, s := range old {
			if s.live > 0 && 2*s.liveBytes < s.size && (victim == nil || s.liveBytes < victim.liveBytes) {
				victim = s
			}
		}
		if victim == nil {
			break
		}
		size := victim.size
		if err := o.copyForward(victim); err != nil {
			return err
		}
		reclaim += size
		copied = true
	}
	if reclaim == 0 {
		return nil
	}
	durable := o.opts.sync != SyncNever
	if copied && durable {
		if err := act.sync(); err != nil {
			o.broken = fmt.Errorf("%w: %w", ErrBroken, err)
			return o.broken
		}
	}
	if err := writeFileAtomic(o.dir, checkpointTmp, checkpointName, encodeCheckpoint(o.checkpoint()), durable); err != nil {
		return fmt.Errorf("outbox: checkpoint: %w", err)
	}
	keep := o.segs[:0]
	for _, s := range o.segs {
		if s == act || s.live > 0 {
			keep = append(keep, s)
			continue
		}
		_ = s.close()
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Warn("outbox: remove acknowledged segment", "err", err)
		}
		o.diskBytes -= s.size
	}
	clear(o.segs[len(keep):])
	o.segs = keep
	if durable {
		if err := syncDir(o.dir); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// checkpoint is the delivery state now.
func (o *Outbox) checkpoint() checkpoint {
	cp := checkpoint{next: o.nextSeq}
	for _, e := range o.entries[o.head:] {
		switch n := len(cp.pending); {
		case e.acked:
		case n > 0 && cp.pending[n-1].to == e.seq:
			cp.pending[n-1].to++
		default:
			cp.pending = append(cp.pending, span{e.seq, e.seq + 1})
		}
	}
	return cp
}

// copyForward rewrites victim's pending messages at the end of the active
// segment, so victim can be deleted. A record that no longer reads back
// correctly is dropped and reported instead of copied.
func (o *Outbox) copyForward(victim *segment) error {
	var idx []int
	for i := o.head; i < len(o.entries); i++ {
		if e := o.entries[i]; !e.acked && e.seg == victim {
			idx = append(idx, i)
		}
	}
	var buf []byte
	newOff := make([]int64, len(idx))
	var bad []int
	for k, i := range idx {
		e := o.entries[i]
		start := len(buf)
		buf = append(buf, make([]byte, e.size)...)
		if _, err := victim.f.ReadAt(buf[start:], e.off); err != nil {
			return fmt.Errorf("outbox: compaction: read %s at %d: %w", victim.path, e.off, err)
		}
		if _, _, err := decodeFrame(buf[start:]); err != nil {
			buf = buf[:start]
			newOff[k] = -1
			bad = append(bad, i)
			continue
		}
		newOff[k] = int64(start)
	}
	base, err := o.writeLocked(buf)
	if err != nil {
		return err
	}
	act := o.active()
	for k, i := range idx {
		if newOff[k] < 0 {
			continue
		}
		e := &o.entries[i]
		victim.live--
		victim.liveBytes -= int64(e.size)
		e.seg, e.off = act, base+newOff[k]
		act.live++
		act.liveBytes += int64(e.size)
	}
	for _, m := range o.dropUnreadable(bad) {
		o.log.Error("outbox: message unreadable during compaction; dropped", "seq", m.Seq)
	}
	return nil
}

// readEntries reads the records of the given entries (ascending indices),
// one read per run of adjacent records.
func (o *Outbox) readEntries(idx []int) (msgs []Message, bad []int, err error) {
	const maxRun = 1 << 20
	for k := 0; k < len(idx); {
		first := o.entries[idx[k]]
		end, j := first.off+int64(first.size), k+1
		for j < len(idx) {
			e := o.entries[idx[j]]
			if e.seg != first.seg || e.off != end || end-first.off+int64(e.size) > maxRun {
				break
			}
			end += int64(e.size)
			j++
		}
		run := make([]byte, end-first.off)
		if _, err := first.seg.f.ReadAt(run, first.off); err != nil {
			return nil, nil, fmt.Errorf("outbox: read %s at %d: %w", first.seg.path, first.off, err)
		}
		for ; k < j; k++ {
			e := o.entries[idx[k]]
			rel := e.off - first.off
			m, err := decodeMessage(run[rel:rel+int64(e.size)], e.seq)
			if err != nil {
				o.log.Error("outbox: message unreadable", "path", e.seg.path, "offset", e.off, "seq", e.seq, "err", err)
				bad = append(bad, idx[k])
				continue
			}
			msgs = append(msgs, m)
		}
	}
	return msgs, bad, nil
}

// decodeMessage turns a message record into a Message; the payload is a
// capped sub-slice of b, so appending to it cannot overwrite a neighbour.
func decodeMessage(b []byte, seq uint64) (Message, error) {
	r, n, err := decodeFrame(b)
	if err == nil && (n != len(b) || r.kind != kindMessage || r.seq != seq) {
		err = fmt.Errorf("record there is not message %d", seq)
	}
	if err != nil {
		return Message{}, err
	}
	return Message{
		Seq:     r.seq,
		Queued:  time.Unix(0, r.queued),
		Topic:   string(r.topic),
		Payload: r.payload[:len(r.payload):len(r.payload)],
		QoS:     r.qos,
		Retain:  r.retain,
		Latest:  r.latest,
		MaxAge:  time.Duration(r.maxAge),
	}, nil
}

// readForReport reads one message for WithOnDrop, settling for its
// sequence number if it cannot be read.
func (o *Outbox) readForReport(e entry) Message {
	b := make([]byte, e.size)
	if _, err := e.seg.f.ReadAt(b, e.off); err == nil {
		if m, err := decodeMessage(b, e.seq); err == nil {
			return m
		}
	}
	return Message{Seq: e.seq}
}

// dropUnreadable drops entries whose records went bad on disk after Open
// checked them: the alternative, failing every Next, would stall delivery
// for good. Each is recorded as a drop, counted and returned for WithOnDrop.
func (o *Outbox) dropUnreadable(bad []int) []Message {
	var lost []Message
	for _, i := range bad {
		e := o.entries[i]
		if _, err := o.writeLocked(appendMark(nil, kindDrop, e.seq, 1)); err != nil {
			o.log.Warn("outbox: cannot record the drop of an unreadable message", "seq", e.seq, "err", err)
		}
		o.finish(i)
		o.st.Dropped++
		if o.opts.onDrop != nil {
			lost = append(lost, Message{Seq: e.seq})
		}
	}
	return lost
}

// syncTo returns once every write up to gen is on stable storage. The first
// waiter fsyncs for all who arrive meanwhile (group commit).
func (o *Outbox) syncTo(gen uint64) error {
	o.smu.Lock()
	defer o.smu.Unlock()
	for o.synced < gen {
		if o.serr != nil {
			return o.serr
		}
		if o.syncing {
			o.scond.Wait()
			continue
		}
		o.syncing = true
		o.smu.Unlock()
		o.mu.Lock()
		target, seg := o.gen, o.active()
		o.mu.Unlock()
		err := seg.sync()
		o.smu.Lock()
		o.syncing = false
		if err != nil {
			o.serr = fmt.Errorf("%w: %w", ErrBroken, err)
		} else {
			o.synced = max(o.synced, target)
		}
		o.scond.Broadcast()
	}
	return nil
}

func (o *Outbox) failSync(err error) error {
	o.smu.Lock()
	defer o.smu.Unlock()
	if o.serr == nil {
		o.serr = fmt.Errorf("%w: %w", ErrBroken, err)
	}
	return o.serr
}

// syncLoop fsyncs at most d after a write, and only after one: an idle
// outbox costs no wake-ups (a ticker would wake the process every d for
// nothing). The wait after the first write gathers those that follow into
// one fsync.
func (o *Outbox) syncLoop(d time.Duration) {
	defer close(o.done)
	t := time.NewTimer(d)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-o.dirty:
		}
		t.Reset(d)
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		o.mu.Lock()
		gen := o.gen
		o.mu.Unlock()
		if err := o.syncTo(gen); err != nil {
			o.log.Error("outbox: background fsync failed; outbox unusable", "dir", o.dir, "err", err)
			return
		}
	}
}
