package agent

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed demo.yaml
var demoYAML string

// DemoConfig returns the demo's configuration file: every device
// simulated, the broker and the state directory filled in.
func DemoConfig(broker, stateDir string) []byte {
	r := strings.NewReplacer("BROKER", broker, "STATE_DIR", strconv.Quote(stateDir))
	return []byte(r.Replace(demoYAML))
}

// WriteDemoConfig writes the demo's configuration to stateDir/demo.yaml
// and returns its path: the demo runs from that file, so editing it and
// reloading works as with `run`.
func WriteDemoConfig(broker, stateDir string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	path := filepath.Join(stateDir, "demo.yaml")
	if err := os.WriteFile(path, DemoConfig(broker, stateDir), 0o640); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}
