package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// Two nodes on one broker: "porch" serves a method, "kitchen" calls it.
// (The broker's address is an argument here; the test's broker runs in
// the process.)
func Example() {
	url, stop := exampleBroker()
	defer stop()
	quiet := slog.New(slog.DiscardHandler)
	l := loop.New(loop.WithLogger(quiet))
	node := func(name string) *bridge.Bridge {
		dir, _ := os.MkdirTemp("", "rpc-example")
		b, err := bridge.New(l, bridge.WithBrokers(url), bridge.WithNode(name), bridge.WithStateDir(dir), bridge.WithLogger(quiet))
		if err != nil {
			panic(err)
		}
		return b
	}
	porch, kitchen := node("porch"), node("kitchen")

	srv, _ := rpc.NewServer(porch)
	_ = srv.Handle("add", func(t *loop.Task, r *rpc.Request) (any, error) {
		var p [2]int
		if err := r.Decode(&p); err != nil {
			return nil, err // the caller gets it as an error reply
		}
		return p[0] + p[1], nil
	})
	cli, _ := rpc.NewClient(kitchen)

	err := l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("porch", porch.Run)
		g.Go("porch rpc", srv.Run)
		g.Go("kitchen", kitchen.Run)
		for _, b := range []*bridge.Bridge{porch, kitchen} {
			if err := b.WaitConnected(t); err != nil {
				return err
			}
		}
		sum, err := cli.Call(t, "porch", "add", [2]int{2, 40}, time.Second)
		fmt.Println("add:", string(sum), err)
		_, err = cli.Call(t, "porch", "add", "two and forty", time.Second)
		fmt.Println("error:", err)
		g.Cancel()
		return g.Wait(t)
	})
	fmt.Println("run:", err)
	// Output:
	// add: 42 <nil>
	// error: rpc: porch/add: json: cannot unmarshal string into Go value of type [2]int
	// run: <nil>
}

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
		// at the same moment (see bridgetest).
		for _, cl := range srv.Clients.GetAll() {
			cl.Stop(nil)
		}
		_ = srv.Close()
	}
	return "tcp://" + l.Address(), stop
}
