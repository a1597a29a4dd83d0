//go:build unix

package outbox

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock that the kernel drops when the
// process dies, so a kill -9 never leaves the directory locked.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
