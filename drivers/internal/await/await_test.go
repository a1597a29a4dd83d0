package await_test

import (
	"context"
	"errors"
	"fmt"
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
		scope := loop.WaitFor(tk, time.Millisecond, func(tk *loop.Task) error {
			if err := tk.Sleep(time.Second); !errors.Is(err, loop.ErrTimeout) { // times out; the scope stays expired
				return fmt.Errorf("sleep in the scope: %v, want ErrTimeout", err)
			}
			expired = await.Checkpoint(tk)
			return expired
		})
		if !errors.Is(scope, loop.ErrTimeout) {
			return fmt.Errorf("the scope: %v, want ErrTimeout", scope)
		}
		tk.Cancel()
		after = await.Checkpoint(tk)
		return nil
	})
	if err != nil || before != nil || !errors.Is(expired, loop.ErrTimeout) || !errors.Is(after, loop.ErrCancelled) {
		t.Errorf("Run %v; checkpoint before %v, in an expired scope %v, after Cancel %v", err, before, expired, after)
	}
}
