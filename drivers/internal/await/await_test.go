package await_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/loop"
)

// A running task passes the checkpoint; inside an expired scope it gets
// the timeout, once cancelled the cancellation.
func TestCheckpoint(t *testing.T) {
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	var before, expired, after error
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		before = await.Checkpoint(tk)
		_ = loop.WaitFor(tk, time.Millisecond, func(tk *loop.Task) error {
			_ = tk.Sleep(time.Second) // times out; the scope stays expired
			expired = await.Checkpoint(tk)
			return nil
		})
		tk.Cancel()
		after = await.Checkpoint(tk)
		return nil
	})
	if err != nil || before != nil || !errors.Is(expired, loop.ErrTimeout) || !errors.Is(after, loop.ErrCancelled) {
		t.Errorf("Run %v; checkpoint before %v, in an expired scope %v, after Cancel %v", err, before, expired, after)
	}
}
