package drivertest

import (
	"os"
	"testing"

	"github.com/creack/pty"
)

// OpenPty makes a pseudo-terminal and returns its master and the slave's
// path, or skips the test where there are none. The pty package's own
// slave descriptor is closed, so whoever opens the path is the slave's
// only holder, as with a real device. The master is closed at the end of
// the test unless the test closed it.
func OpenPty(t testing.TB) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	path := slave.Name()
	if err := slave.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	return master, path
}
