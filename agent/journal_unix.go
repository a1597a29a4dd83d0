//go:build unix

package agent

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// toJournal reports whether w is the systemd journal's stream. systemd
// sets JOURNAL_STREAM to "<device>:<inode>" of the stream it connects to a
// service's stdout or stderr; the variable is inherited, so, as sd_journal
// does, w's own device and inode must match it: a stderr that a wrapper
// script or a shell inside the unit redirected elsewhere is not the journal.
func toJournal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	env := os.Getenv("JOURNAL_STREAM")
	if env == "" {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(env, "%d:%d", &dev, &ino); err != nil {
		return false // malformed: not ours to trust
	}
	fi, err := f.Stat() // fstat of the descriptor, as sd_journal does
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	// The conversions are for the systems whose Dev or Ino is not uint64.
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
