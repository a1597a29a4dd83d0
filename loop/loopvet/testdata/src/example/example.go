// Package example is the package ExampleAnalyzer analyses: one finding of
// each kind.
package example

import (
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

func blink(t *loop.Task, ev *primitives.Event) error {
	for {
		time.Sleep(500 * time.Millisecond) // want `time.Sleep blocks the loop`
		t.Yield()                          // want `error of await t.Yield is dropped`
		go func() {
			ev.Set()     // want `\(\*primitives.Event\).Set touches loop state from a go statement`
			_ = t.Name() // want `task handle t is used in a go statement`
		}()
	}
}
