package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/edgeagent/edgeagent/agent"
	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/demobroker"
)

// demoOptions are the flags of `edgeagent demo`.
type demoOptions struct {
	port     int
	broker   string
	stateDir string
}

func newDemoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the agent on simulated devices, with a broker of its own",
		Long: `Demo runs the agent exactly as run does, on a built-in configuration whose
devices are all simulated: a doorbell pressed in a repeating pattern, a
relay, an LED, the host's readings. Unless --broker names one, it starts an
MQTT broker of its own on 127.0.0.1:1883 (or the next free port, printed).
It writes its configuration to the state directory and runs from there, so
editing that file and sending SIGHUP reloads it. Stop it with Ctrl-C.`,
		Example: `  edgeagent demo
  edgeagent demo --port 18830
  edgeagent demo --broker tcp://localhost:1883 --state-dir /tmp/demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.port, "port", 0, "port of the embedded broker (default 1883 or the next free one)")
	f.StringVar(&o.broker, "broker", "", "use this broker instead of an embedded one (tcp://host:port)")
	f.StringVar(&o.stateDir, "state-dir", "", "where the demo keeps its outbox and configuration (default: a temporary directory)")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	// The agent's own kind of logger: the demo configuration's log section,
	// and a reload's, apply to it (and to the embedded broker's lines).
	log := agent.NewLogger(config.Log{Level: slog.LevelInfo, Format: config.LogText})
	broker := o.broker
	if broker == "" {
		b, err := demobroker.Start(o.port, demobroker.WithLogger(log))
		if err != nil {
			return err
		}
		defer b.Close()
		broker = b.URL()
	}
	dir := o.stateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "edgeagent-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	path, err := agent.WriteDemoConfig(broker, dir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("the demo's configuration: %w", err)
	}
	fmt.Fprint(out, demoHint(broker, cfg, path))
	return runAgent(ctx, cfg, agent.WithLogger(log))
}

// demoHint says how to watch the demo and how to command it.
func demoHint(broker string, cfg *config.Config, path string) string {
	u, _ := url.Parse(broker)
	host, port := u.Hostname(), u.Port()
	node := cfg.MQTT.NodeID
	base := cfg.MQTT.BaseTopic
	// Always named: sub and call would otherwise prefer the broker of an
	// installed configuration (/etc/edgeagent/config.yaml).
	flag := " --broker " + broker
	return fmt.Sprintf("edgeagent demo: node %q on %s, configuration %s\n"+
		"watch:   edgeagent sub%s    (or: mosquitto_sub -h %s -p %s -t '%s/#' -v)\n"+
		"command: edgeagent call read porch_light%s    (or: mosquitto_pub -h %s -p %s -t %s/%s/porch_light/set -m ON)\n",
		node, broker, path, flag, host, port, base, flag, host, port, base, node)
}
