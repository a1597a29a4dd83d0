package gpioin

import (
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// A LoopPin is an input pin that reports its own level changes on the loop,
// with no goroutine: a simulated pin (gpiointest.Pin), or a pin of an I/O
// expander read by a loop task. Input.Run subscribes to it instead of
// waiting for edges, unless polling is forced.
type LoopPin interface {
	gpio.PinIn
	// Subscribe arranges for fn to be called on l, at the time of each level
	// change, with the edge stamped with l's clock, until cancel is called.
	// It is called on l.
	Subscribe(l *loop.Loop, fn func(Edge)) (cancel func())
}
