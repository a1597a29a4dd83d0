package outbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// segFile is what the outbox needs from a segment file; *os.File in
// production, a wrapper that fails on demand in tests.
type segFile interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// segment is one log file. Everything but f's Sync and Close is guarded by
// the Outbox's mutex; fmu lets a group-commit fsync run outside that mutex
// without racing a deletion that closes the file.
type segment struct {
	id        uint64
	path      string
	f         segFile
	size      int64 // bytes written: header and whole records
	live      int   // unacknowledged messages whose current copy is here
	liveBytes int64

	fmu    sync.RWMutex
	closed bool
}

func (s *segment) sync() error {
	s.fmu.RLock()
	defer s.fmu.RUnlock()
	if s.closed {
		// Closed only once its data no longer matters or Close synced it.
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	return nil
}

func (s *segment) close() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

const (
	segPrefix      = "seg-"
	segSuffix      = ".wal"
	checkpointName = "checkpoint"
	checkpointTmp  = "checkpoint.tmp"
	lockName       = "LOCK"
)

func segName(id uint64) string { return fmt.Sprintf("%s%016x%s", segPrefix, id, segSuffix) }

// parseSegName returns the id of a segment file name, or false for any
// other file (saved .corrupt parts, the checkpoint, strangers).
func parseSegName(name string) (uint64, bool) {
	if len(name) != len(segPrefix)+16+len(segSuffix) || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	id, err := strconv.ParseUint(name[len(segPrefix):len(segPrefix)+16], 16, 64)
	return id, err == nil
}

// syncDir makes renames, creations and deletions in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: write a temporary file, fsync it
// (when durable), rename it over path, and fsync the directory (when
// durable) so that the rename is on disk before anything that relies on it.
func writeFileAtomic(dir, tmpName, name string, data []byte, durable bool) error {
	tmp, final := dir+string(os.PathSeparator)+tmpName, dir+string(os.PathSeparator)+name
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", final, err)
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}
