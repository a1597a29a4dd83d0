package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/spf13/cobra"
)

func newDemoCommand() *cobra.Command {
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a demonstration of the scheduler with simulated devices",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), duration)
		},
	}
	cmd.Flags().DurationVar(&duration, "for", 0, "stop after this long (0: until interrupted)")
	return cmd
}

// runDemo shows the scheduler at work on simulated devices: an LED blinking,
// a heartbeat, and a slow sensor read bounded by a timeout — all on one loop
// goroutine, none blocking the others. Later issues replace it with the
// agent's demo configuration.
func runDemo(ctx context.Context, out io.Writer, d time.Duration) error {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	l := loop.New()
	start := l.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "%7.3fs  %s\n", l.Now().Sub(start).Seconds(), fmt.Sprintf(format, args...))
	}
	err := l.Run(ctx, func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("led", func(t *loop.Task) error {
			on := false
			for {
				on = !on
				say("led %s", map[bool]string{true: "on", false: "off"}[on])
				if err := t.Sleep(500 * time.Millisecond); err != nil {
					return err
				}
			}
		})
		g.Go("heartbeat", func(t *loop.Task) error {
			for n := 1; ; n++ {
				say("heartbeat %d: %d tasks, %d switches", n, l.Stats().Tasks, l.Stats().Switches)
				if err := t.Sleep(2 * time.Second); err != nil {
					return err
				}
			}
		})
		g.Go("sensor", func(t *loop.Task) error {
			for {
				// A read that takes 300 ms on one try in four, under a
				// 200 ms timeout: the other tasks never notice.
				err := loop.WaitFor(t, 200*time.Millisecond, func(t *loop.Task) error {
					slow := time.Duration(l.Stats().Switches%4) * 100 * time.Millisecond
					return t.Sleep(slow)
				})
				switch {
				case errors.Is(err, loop.ErrTimeout):
					say("sensor: read timed out")
				case err != nil:
					return err
				default:
					say("sensor: 21.5 °C")
				}
				if err := t.Sleep(1500 * time.Millisecond); err != nil {
					return err
				}
			}
		})
		return g.Wait(t)
	})
	if errors.Is(err, loop.ErrCancelled) {
		say("stopped")
		return nil
	}
	return err
}
