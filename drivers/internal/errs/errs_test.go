package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/internal/errs"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// A closed sentinel says its own message, matches itself and
// primitives.ErrClosed, also wrapped, and nothing else closed.
func TestClosed(t *testing.T) {
	a, b := errs.Closed("uart: stream closed"), errs.Closed("atmodem: modem closed")
	wrapped := fmt.Errorf("uart /dev/x: write: %w", a)
	switch {
	case a.Error() != "uart: stream closed":
		t.Errorf("message %q", a)
	case !errors.Is(wrapped, a) || !errors.Is(wrapped, primitives.ErrClosed):
		t.Errorf("%v does not match its sentinel and primitives.ErrClosed", wrapped)
	case errors.Is(a, b) || errors.Is(a, loop.ErrClosed):
		t.Errorf("%v matches another sentinel", a)
	}
}
