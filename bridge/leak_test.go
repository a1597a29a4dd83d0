package bridge

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/edgeagent/edgeagent/loop"
)

// When Run returns, nothing of the bridge is left running: no worker, no
// sender, no paho client, no outbox sync.
func TestNoGoroutineLeft(t *testing.T) {
	before := goleak.IgnoreCurrent()
	br := startBroker(t, brokerOpts{})
	pingScenario(t, fastOpts(t, "n1", br.URL(), "tcp://127.0.0.1:1"))
	// A bridge that never reaches its broker.
	scenario(t, fastOpts(t, "n2", "tcp://127.0.0.1:1"), nil, func(tk *loop.Task, b *Bridge) error {
		return waitFailures(tk, b, 2)
	})
	br.Stop()
	goleak.VerifyNone(t, before)
}
