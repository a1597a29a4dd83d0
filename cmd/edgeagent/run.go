package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent"
	"github.com/edgeagent/edgeagent/agent/config"
)

// exitError ends the program with a code, its message already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRunCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent: devices, MQTT and Home Assistant as the configuration says",
		Long: `Run runs the agent as configured until SIGTERM or SIGINT, then stops
gracefully: "offline" (retained) on MQTT, requests in progress answered,
devices stopped, the outbox flushed, within the configuration's
shutdown_timeout. It exits 0 after a graceful stop, non-zero with the reason
otherwise. SIGHUP reloads the configuration: one with errors is refused (the
running one is kept), a good one is applied without losing queued messages.
Under systemd (Type=notify) it reports READY, STATUS, RELOADING, STOPPING and
feeds the watchdog from its loop.`,
		Example: `  edgeagent run
  edgeagent run --config ./config.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hw := agent.NewHostHardware()
			cfg, err := agent.LoadConfig(path, hw)
			if err != nil {
				return configErrors(cmd.ErrOrStderr(), err)
			}
			return runAgent(cmd.Context(), cfg, agent.WithHardware(hw))
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "the configuration file")
	return cmd
}

// configErrors prints a configuration's errors, one per line, and returns
// the exit status for them.
func configErrors(w io.Writer, err error) error {
	var ce config.Errors
	if errors.As(err, &ce) {
		for _, e := range ce {
			fmt.Fprintln(w, e)
		}
		fmt.Fprintf(w, "%d error(s): nothing started\n", len(ce))
		return exitError{1}
	}
	return err
}

// runAgent runs the agent of cfg until ctx ends, reloading on SIGHUP.
func runAgent(ctx context.Context, cfg *config.Config, opts ...agent.Option) error {
	opts = append([]agent.Option{agent.WithVersion(versionNumber())}, opts...)
	a, err := agent.New(cfg, opts...)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				a.Reload()
			case <-done:
				return
			}
		}
	}()
	return a.Run(ctx)
}
