// Package inlet gives the drivers' goroutines (GPIO edge watchers, serial
// readers) their loop.Inlet: the bounded way into the loop, whose refusals
// are counted in the loop's Stats. It adds one thing: a name that is
// unique on the loop, which loop.NewInlet requires, from a driver's name
// that need not be (two pins may share a name in a test).
//
// It must not hold package-level state.
package inlet

import (
	"fmt"

	"github.com/edgeagent/edgeagent/loop"
)

// Inlet is the loop's.
type Inlet = loop.Inlet

// ErrFull is returned by TryPost when the inlet's limit is reached.
var ErrFull = loop.ErrInletFull

// New returns an inlet into l holding at most limit functions queued,
// named name, or name with " #2", " #3" … if the loop has one of that name
// already. It is called on the loop (or before Run), once per driver and
// loop: inlets live as long as their loop.
func New(l *loop.Loop, name string, limit int) *Inlet {
	taken := l.Stats().Inlets
	unique := name
	for i := 2; ; i++ {
		if _, dup := taken[unique]; !dup {
			break
		}
		unique = fmt.Sprintf("%s #%d", name, i)
	}
	return l.NewInlet(unique, limit)
}
