package demobroker_test

import (
	"fmt"
	"log/slog"

	"github.com/edgeagent/edgeagent/agent/demobroker"
)

// The demo starts its broker on 1883, or the next free port, and tells the
// user where it is.
func Example() {
	b, err := demobroker.Start(0, demobroker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	fmt.Println(b.Port() >= demobroker.DefaultPort, b.URL() == fmt.Sprintf("tcp://127.0.0.1:%d", b.Port()))
	// Output: true true
}
