//go:build unix

package agent

import (
	"os"
	"syscall"
)

// pollable returns f's descriptor as a new non-blocking *os.File, which
// Go's poller serves, and closes f. creack/pty leaves the pty master in
// blocking mode (its ioctls go through Fd), where read deadlines are
// accepted and silently ignored: the serial stream's reader then never
// sees a stop request, and every stop waited out the stream's bound.
// f is closed in any case.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
