package bridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// allowAll lets every client in (the example's broker).
type allowAll struct{ mochi.HookBase }

func (allowAll) ID() string { return "allow" }
func (allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (allowAll) OnACLCheck(*mochi.Client, string, bool) bool              { return true }

// exampleBroker starts an in-process broker on a free loopback port and
// returns its URL and a function that stops it.
func exampleBroker() (string, func()) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = srv.AddHook(&allowAll{}, nil)
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	_ = srv.AddListener(l)
	_ = srv.Serve()
	stop := func() {
		// Clients first: mochi's Close can deadlock with a client leaving
		// at the same moment (see safeTCP in the tests).
		for _, cl := range srv.Clients.GetAll() {
			cl.Stop(nil)
		}
		_ = srv.Close()
	}
	return "tcp://" + l.Address(), stop
}

// A node named "porch": a remote command reaches a task through a queue,
// and the task reports the relay's state.
func ExampleNew() {
	url, stopBroker := exampleBroker() // in real life: the broker's address
	defer stopBroker()
	dir, _ := os.MkdirTemp("", "bridge-example")
	defer os.RemoveAll(dir)

	quiet := slog.New(slog.DiscardHandler)
	l := loop.New(loop.WithLogger(quiet))
	b, err := bridge.New(l,
		bridge.WithBrokers(url),
		bridge.WithNode("porch"),
		bridge.WithStateDir(dir), // the outbox: QoS ≥ 1 publications wait here
		bridge.WithLogger(quiet),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	relay := primitives.NewQueue[bridge.Message](8)
	_ = b.Subscribe(b.Topics().Command("relay"), relay, bridge.Sub{QoS: 1, WhenFull: bridge.Hold})

	// Another MQTT client: Home Assistant, say, switching the relay on.
	other := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("other"))
	other.Connect().Wait()
	defer other.Disconnect(0)
	states := make(chan string, 1)
	other.Subscribe("edgeagent/porch/relay/state", 1, func(_ mqtt.Client, m mqtt.Message) { states <- string(m.Payload()) }).Wait()

	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("bridge", b.Run)
		g.Go("relay", func(t *loop.Task) error {
			for {
				cmd, err := relay.Get(t) // a remote command, awaited like any queue
				if err != nil {
					return err
				}
				// … drive the pin, then report the new state: retained, and
				// after an outage only the latest one is replayed.
				state := bridge.Pub{QoS: 1, Retain: true, Latest: true}
				if err := b.Publish(t, b.Topics().State("relay"), cmd.Payload, state); err != nil {
					return err
				}
			}
		})
		if err := b.WaitConnected(t); err != nil {
			return err
		}
		other.Publish("edgeagent/porch/relay/set", 1, false, "ON")
		state, err := loop.Offload(t, func(ctx context.Context) (string, error) { return <-states, nil })
		fmt.Println("relay state:", state, err)
		g.Cancel() // the bridge publishes "offline" and disconnects
		return g.Wait(t)
	})
	fmt.Println("run:", err)
	// Output:
	// relay state: ON <nil>
	// run: <nil>
}
