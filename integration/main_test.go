package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/integration/mosquitto"
	"github.com/edgeagent/edgeagent/integration/proc"
)

// What TestMain prepares for every test of the package. They are set once,
// before any test runs, and only read afterwards.
var (
	// env starts brokers; nil under -short.
	env *mosquitto.Env
	// builds builds main packages once per run.
	builds *proc.Builder
)

// scope names this package's containers for the leftover sweep.
const scope = "github.com/edgeagent/edgeagent/integration"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	var err error
	if builds, err = proc.NewBuilder(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer builds.Close()
	if !testing.Short() {
		// Before anything touches testcontainers: it reads them once.
		mosquitto.SetTestcontainersDefaults()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		env = mosquitto.Prepare(ctx, scope, os.Stderr)
		cancel()
		defer env.Close()
		if err := env.Err(); err != nil {
			if mosquitto.Required() {
				fmt.Fprintf(os.Stderr, "integration: %s=1 but no broker can run: %v\n", mosquitto.RequireEnv, err)
				return 1
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			fmt.Fprintf(os.Stderr, "integration: broker tests skip: %s\n", first)
		}
	}
	return m.Run()
}
