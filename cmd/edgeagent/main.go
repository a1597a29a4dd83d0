// Command edgeagent is the edge agent: a cooperative scheduler over local
// hardware, bridged to MQTT. This file only parses the command line; the
// work is done in the packages it calls.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			stop()
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "edgeagent:", err)
		stop()
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "edgeagent",
		Short:         "An edge agent for Linux single-board computers, bridged to MQTT",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDemoCommand(), newManCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print the version, the source revision, the Go release and the platform",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), versionLine()) },
	})
	root.AddCommand(newSubCommand(), newRunCommand(), newValidateCommand(), newDiscoveryCommand(), newCallCommand())
	return root
}
