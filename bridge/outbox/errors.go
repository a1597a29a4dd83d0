package outbox

import (
	"errors"
	"fmt"
)

// Errors returned by the outbox, matched with errors.Is. Errors from the
// file system keep their cause (errors.Is(err, syscall.ENOSPC),
// errors.Is(err, fs.ErrPermission)) and name the path.
var (
	// ErrClosed: the Outbox was closed.
	ErrClosed = errors.New("outbox: closed")
	// ErrFull: RejectNew refused a message because a bound was reached.
	ErrFull = errors.New("outbox: full")
	// ErrTooLarge: the message alone exceeds WithMaxBytes.
	ErrTooLarge = errors.New("outbox: message larger than the outbox")
	// ErrInvalid: a bad topic, QoS or option.
	ErrInvalid = errors.New("outbox: invalid argument")
	// ErrUnknownSeq: Ack of a sequence number the outbox never assigned.
	ErrUnknownSeq = errors.New("outbox: unknown sequence number")
	// ErrLocked: another Outbox (in this or another process) has the directory.
	ErrLocked = errors.New("outbox: state directory in use")
	// ErrBroken: an fsync failed, or a failed write could not be undone;
	// the Outbox refuses further work. Close it and Open the directory
	// again: recovery finds what really reached the disk.
	ErrBroken = errors.New("outbox: broken")
)

// CorruptError reports damage found by Open in the middle of a segment (or
// in the checkpoint). The records before Offset were kept; the bytes from
// Offset to the end of that file, if any, were moved to SavedAs.
type CorruptError struct {
	Path    string // the damaged file
	Offset  int64  // where the first bad record starts
	Reason  string // what was wrong with it
	Lost    int64  // bytes cut from Path
	SavedAs string // where they went; empty when nothing was moved
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("outbox: %s: corrupt at offset %d: %s", e.Path, e.Offset, e.Reason)
	if e.SavedAs != "" {
		s += fmt.Sprintf(" (%d bytes after it moved to %s)", e.Lost, e.SavedAs)
	}
	return s
}
