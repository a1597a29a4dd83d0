// Package primitives holds the synchronisation set of the cooperative
// scheduler: Lock, Event, Barrier, Semaphore, Condition, Queue and Delay.
//
// Every type is used from tasks and callbacks of one loop only; other
// goroutines reach them through the loop's Post. Nothing here blocks a
// goroutine: waiting always parks the calling task and lets the loop go on.
package primitives
