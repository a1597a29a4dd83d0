package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/sdnotify"
	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// Once the stop has begun, set commands are not acted on and requests get
// an error reply; before it, both go through.
func TestNoCommandsWhileStopping(t *testing.T) {
	cfg, err := config.Parse("test.yaml", testConfig("tcp://127.0.0.1:1", t.TempDir(), `
mqtt:
  brokers: [BROKER]
  node_id: test
state_dir: STATE_DIR
devices:
  - {name: relay, type: relay, pin: GPIO23, simulate: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, WithClock(loop.NewVirtualClock()), WithLogger(slog.New(slog.DiscardHandler)), WithNotifier(&sdnotify.Notifier{}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.b.Close()
	r := a.devs["relay"]
	set := bridge.Message{Topic: "edgeagent/test/relay/set", Payload: []byte("ON"), QoS: 1}
	err = a.l.Run(context.Background(), func(t *loop.Task) error {
		router := t.Loop().Go("commands", a.routeCommands)
		defer router.Cancel()
		ping := a.guard(a.ping)
		if _, err := ping(t, &rpc.Request{Method: "ping"}); err != nil {
			return fmt.Errorf("ping before the stop: %w", err)
		}
		if err := a.commands.TryPut(set); err != nil {
			return err
		}
		if err := t.Sleep(0); err != nil {
			return err
		}
		if r.cmds.Len() != 1 {
			return fmt.Errorf("before the stop, the command did not reach the device (%d queued)", r.cmds.Len())
		}
		if _, err := r.cmds.TryGet(); err != nil {
			return err
		}
		a.stopping = true
		if err := a.commands.TryPut(set); err != nil {
			return err
		}
		if err := t.Sleep(0); err != nil {
			return err
		}
		if r.cmds.Len() != 0 {
			return errors.New("a command reached the device during the stop")
		}
		if _, err := ping(t, &rpc.Request{Method: "ping"}); !errors.Is(err, errStopping) {
			return fmt.Errorf("ping during the stop: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
