package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent"
	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/bridge/hass"
)

func newDiscoveryCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Print the Home Assistant discovery config the agent would publish",
		Long: `Discovery prints the topic and the payload (indented) of the Home
Assistant device-based discovery config that run would publish, retained,
for the configuration: one device for the node, one entity per value.`,
		Example: `  edgeagent discovery --config ./config.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return configErrors(cmd.ErrOrStderr(), err)
			}
			if cfg.HomeAssistant.Enabled && len(cfg.Devices) == 0 {
				t, err := hass.DeviceTopic(cfg.HomeAssistant.DiscoveryPrefix, cfg.MQTT.NodeID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  (an empty retained payload: no devices, so the node's device is removed)\n", t)
				return nil
			}
			c, err := agent.Discovery(cfg, versionNumber())
			if err != nil {
				return err
			}
			if c == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "Home Assistant discovery is off (homeassistant.enabled: false)")
				return nil
			}
			var out bytes.Buffer
			if err := json.Indent(&out, c.Payload(), "", "  "); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s  (retained)\n%s\n", c.Topic(), out.String())
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "the configuration file")
	return cmd
}
