package sdnotify_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/loop"
)

// The agent's life-cycle as systemd sees it: the watchdog task beside the
// work, READY and a STATUS line once started (from a loop task, so through
// OffLoop), STOPPING the moment SIGTERM arrives. Outside systemd every call
// does nothing.
func Example() {
	log := slog.Default()
	n := sdnotify.New(sdnotify.WithLogger(log))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, n.Stopping) // on a goroutine of its own, not the loop

	l := loop.New(loop.WithLogger(log))
	_ = l.Run(ctx, func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("watchdog", n.Watchdog) // ends at once when there is no watchdog
		// … start the devices and the bridge, try the first connection …
		err := sdnotify.OffLoop(t, func() {
			n.Ready()
			n.Status("connected to tcp://localhost:1883, 4 devices")
		})
		if err != nil {
			return err
		}
		return g.Wait(t) // until SIGTERM cancels the loop
	})
}
