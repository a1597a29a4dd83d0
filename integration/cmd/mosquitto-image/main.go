// Command mosquitto-image makes sure the Mosquitto image the integration
// tests run is present, building it from Debian's packages when it is
// missing (see package mosquitto), and prints its name. CI runs it before
// `make test` so a missing image shows up as its own failure.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/edgeagent/edgeagent/integration/mosquitto"
	"github.com/testcontainers/testcontainers-go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mosquitto-image:", err)
		os.Exit(1)
	}
}

func run() error {
	mosquitto.SetTestcontainersDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("no Docker engine: %w", err)
	}
	defer cli.Close()
	name, err := mosquitto.ResolveImage(ctx, cli, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(name)
	return nil
}
