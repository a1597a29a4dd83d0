package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent"
	"github.com/edgeagent/edgeagent/agent/config"
)

func newValidateCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration file and list every error",
		Long: `Validate reads the configuration as run would and reports every problem
at once, one per line as FILE:LINE:COL: key.path: message, exiting 1; a good
file gets a one-line summary and exit 0. On a board with GPIO the pins and
I2C buses of the devices that are not simulated are checked against it;
elsewhere only their form is, and the summary says so.`,
		Example: `  edgeagent validate
  edgeagent validate --config ./config.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(path, agent.NewHostHardware())
			if err != nil {
				return configErrors(cmd.OutOrStdout(), err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), cfg.Summary())
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "the configuration file")
	return cmd
}
