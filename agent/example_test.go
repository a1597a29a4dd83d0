package agent_test

import (
	"context"
	"fmt"
	"log"
	"os/signal"
	"syscall"

	"github.com/edgeagent/edgeagent/agent"
	"github.com/edgeagent/edgeagent/agent/config"
)

// An agent as `edgeagent run` starts it: the configuration checked against
// the board where there is one, SIGTERM for a graceful stop, SIGHUP for a
// reload.
func ExampleNew() {
	hw := agent.NewHostHardware()
	cfg, err := agent.LoadConfig("/etc/edgeagent/config.yaml", hw)
	if err != nil {
		log.Fatal(err) // every error of the file, one per line
	}
	a, err := agent.New(cfg, agent.WithHardware(hw), agent.WithVersion("0.1.0"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// What the demo announces to Home Assistant: one device, one component per
// value of its ten simulated devices.
func ExampleDiscovery() {
	cfg, err := config.Parse("demo.yaml", agent.DemoConfig("tcp://127.0.0.1:1883", "/tmp/demo"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := agent.Discovery(cfg, "0.1.0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Topic(), len(c.Components()), "components")
	// Output: homeassistant/device/demo/config 19 components
}
