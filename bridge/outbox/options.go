package outbox

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// SyncPolicy says when the outbox calls fsync. Whatever the policy, every
// Append and Ack has handed its record to the kernel with write(2) before it
// returns, so a crash of the process (kill -9, panic, OOM kill) loses
// nothing; the policy only matters when the machine itself goes down.
type SyncPolicy time.Duration

const (
	// SyncAlways: Append and Ack return only after fsync, so a power loss
	// loses nothing they reported done. Concurrent callers share one fsync
	// (group commit).
	SyncAlways SyncPolicy = 0
	// SyncNever never calls fsync (not even on Close): the kernel writes
	// back when it likes, and a power loss may lose, or on some file systems
	// garble, anything written in the last tens of seconds.
	SyncNever SyncPolicy = -1
)

// SyncInterval returns a policy that fsyncs in the background every d, so a
// power loss loses at most about the last d of appends and acks; segment
// rotation, the checkpoint and Close also fsync. d must be positive.
func SyncInterval(d time.Duration) SyncPolicy { return SyncPolicy(d) }

// String names the policy the way it is written in Go.
func (p SyncPolicy) String() string {
	switch {
	case p == SyncAlways:
		return "SyncAlways"
	case p == SyncNever:
		return "SyncNever"
	case p > 0:
		return fmt.Sprintf("SyncInterval(%v)", time.Duration(p))
	}
	return fmt.Sprintf("SyncPolicy(%d)", int64(p))
}

// Overflow says what Append does when the outbox is full.
type Overflow int

const (
	// DropOldest evicts the oldest unacknowledged messages to make room,
	// counts each one in Stats.Dropped and reports it to WithOnDrop's
	// function. It is the default: for telemetry the newest value matters
	// most.
	DropOldest Overflow = iota
	// RejectNew refuses the new message with ErrFull and counts it in
	// Stats.Rejected; what is queued stays.
	RejectNew
)

// String names the policy.
func (o Overflow) String() string {
	switch o {
	case DropOldest:
		return "DropOldest"
	case RejectNew:
		return "RejectNew"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// Defaults used by Open.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxCount = 100_000
	DefaultSync     = SyncPolicy(time.Second)
)

// Option configures Open.
type Option func(*options)

type options struct {
	maxBytes int64
	maxCount int
	overflow Overflow
	sync     SyncPolicy
	segSize  int64
	logger   *slog.Logger
	onDrop   func(Message)
	strict   bool
	now      func() time.Time
	wrap     func(*os.File) segFile // tests inject write failures here
	errs     []error
}

// WithMaxBytes bounds the unacknowledged messages' size on disk (records
// with their framing: topic and payload plus 29 bytes). Default 64 MiB. Disk
// use stays below about twice this plus one segment.
func WithMaxBytes(n int64) Option {
	return func(o *options) {
		if n <= 0 {
			o.errs = append(o.errs, fmt.Errorf("WithMaxBytes(%d): must be positive", n))
			return
		}
		o.maxBytes = n
	}
}

// WithMaxCount bounds the number of unacknowledged messages. Default 100 000.
func WithMaxCount(n int) Option {
	return func(o *options) {
		if n <= 0 {
			o.errs = append(o.errs, fmt.Errorf("WithMaxCount(%d): must be positive", n))
			return
		}
		o.maxCount = n
	}
}

// WithOverflow picks what happens when a bound is reached. Default DropOldest.
func WithOverflow(p Overflow) Option {
	return func(o *options) {
		if p != DropOldest && p != RejectNew {
			o.errs = append(o.errs, fmt.Errorf("WithOverflow(%v): unknown policy", p))
			return
		}
		o.overflow = p
	}
}

// WithSync picks the fsync policy. Default SyncInterval(time.Second).
func WithSync(p SyncPolicy) Option {
	return func(o *options) {
		if p < 0 && p != SyncNever {
			o.errs = append(o.errs, fmt.Errorf("WithSync(%v): an interval must be positive", p))
			return
		}
		o.sync = p
	}
}

// WithSegmentSize sets the size at which the log moves to a new segment
// file; whole segments are the unit of deletion. Default: MaxBytes/16,
// between 64 KiB and 4 MiB. At least 4 KiB.
func WithSegmentSize(n int64) Option {
	return func(o *options) {
		if n < 4096 {
			o.errs = append(o.errs, fmt.Errorf("WithSegmentSize(%d): must be at least 4096", n))
			return
		}
		o.segSize = n
	}
}

// WithLogger receives recovery reports (torn tails, corruption) at Warn and
// Error, drops at Debug. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithOnDrop calls fn for every message DropOldest evicts (and for a
// message found unreadable on disk, with only Seq set). fn runs on the
// appending goroutine after the outbox's lock is released, so it may call
// the outbox.
func WithOnDrop(fn func(Message)) Option {
	return func(o *options) { o.onDrop = fn }
}

// WithStrictRecovery makes Open fail with a *CorruptError, changing nothing
// on disk, when a segment is damaged in the middle. Without it Open keeps what
// precedes the damage, moves the rest aside and goes on. A torn tail is
// repaired either way: it is what a crash normally leaves.
func WithStrictRecovery() Option {
	return func(o *options) { o.strict = true }
}

// WithClock sets where Message.Queued comes from. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

func buildOptions(opts []Option) (options, error) {
	o := options{
		maxBytes: DefaultMaxBytes,
		maxCount: DefaultMaxCount,
		overflow: DropOldest,
		sync:     DefaultSync,
		logger:   slog.New(slog.DiscardHandler),
		now:      time.Now,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(o.errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrInvalid, o.errs[0])
	}
	if o.segSize == 0 {
		o.segSize = min(max(o.maxBytes/16, 64<<10), 4<<20)
	}
	return o, nil
}
