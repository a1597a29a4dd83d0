// Package gpioin is the input layer the GPIO drivers share: it watches one
// input pin and hands its level changes, with the time each happened, to a
// function running on the loop.
//
// A pin is watched in one of three ways, chosen when Input.Run starts:
//
//   - Edges: a goroutine blocks in the pin's WaitForEdge, reads the level and
//     the loop clock right after each edge, and hands the edge to the loop
//     through a loop.Inlet (the seed's interrupt handler). An idle pin costs
//     nothing: no wake-ups on the loop, and on the goroutine one bounded wait
//     per WakeInterval (default 1 s), a backstop for pin drivers whose
//     WaitForEdge cannot be interrupted. Edges that arrive faster than the
//     loop drains them are batched into one post; at most EdgeBuffer of them
//     wait, and what is lost beyond is counted.
//   - Polling: a loop task reads the level every poll period (default 10 ms)
//     and reports changes. Used when the pin has no edge detection (In with
//     gpio.BothEdges fails) or when asked for.
//   - On the loop: a pin implementing LoopPin reports its own changes on the
//     loop. gpiointest.Pin is one: tests and demos drive it from a task at
//     exact (virtual) times, so everything built on it is deterministic.
//
// Debouncer turns the raw edges of a mechanical contact into settled level
// changes; package contact and package button build on it, package nec uses
// the raw edge times.
//
// The package must not decide what an edge means (that is the drivers'), must
// not touch loop state from its goroutine other than through its inlet (one
// post in flight; WithEdgeBuffer bounds the edges waiting behind it), and
// must not leave its goroutine running once Run has returned.
package gpioin
