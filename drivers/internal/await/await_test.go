package await_test

import (
	"context"
	"errors"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/loop"
)

// A running task passes the checkpoint; once cancelled it gets the
// cancellation, without parking.
func TestCheckpoint(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var before, after error
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		before = await.Checkpoint(tk)
		tk.Cancel()
		after = await.Checkpoint(tk)
		return nil
	})
	if err != nil || before != nil || !errors.Is(after, loop.ErrCancelled) {
		t.Errorf("Run %v; checkpoint before cancel %v, after %v", err, before, after)
	}
}
