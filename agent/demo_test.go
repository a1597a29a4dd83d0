package agent

import (
	"testing"

	"github.com/edgeagent/edgeagent/agent/config"
)

// The demo's configuration parses, simulates every device, and shows every
// device type.
func TestDemoConfig(t *testing.T) {
	cfg, err := config.Parse("demo.yaml", DemoConfig("tcp://127.0.0.1:1883", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[config.Type]bool{}
	for _, d := range cfg.Devices {
		if !d.Spec.Simulated() {
			t.Errorf("device %s is not simulated", d.Name)
		}
		seen[d.Type] = true
		if _, err := newDevice(d, nil); err != nil {
			t.Errorf("device %s: %v", d.Name, err)
		}
	}
	for _, typ := range config.Types() {
		// One of each pair that shares an implementation is enough.
		if !seen[typ] && typ != config.TypeSwitch && typ != config.TypeOutput {
			t.Errorf("the demo has no %s", typ)
		}
	}
	if _, err := Discovery(cfg, "test"); err != nil {
		t.Fatal(err)
	}
}
