// Package loop is edgeagent's cooperative scheduler, the model of
// MicroPython's uasyncio done in Go without its V2 limits.
//
// One goroutine runs a Loop's tasks one at a time; a task runs until it
// awaits — t.Sleep, a Queue's Get, a Lock's Acquire, an Event's Wait — so
// code on the loop needs no mutexes. Tasks are coroutines switched by the
// standard library's iter.Pull, without a channel per switch.
//
// Every await takes the task and returns an error. After Task.Cancel, or when
// a WaitFor deadline passes, the await a task is in returns at once
// (ErrCancelled, a *TimeoutError) and so does every later one, even one that
// would not have to wait: every await is a checkpoint (Task.Checkpoint is
// the check on its own), cancellation is sticky, and a task returns the
// error upward. A value handed to a blocked await before the interruption
// is still delivered. Shield runs cleanup that must still await. Groups
// give structured concurrency: no child outlives its owner, and a child's
// failure is seen when it happens.
//
// Other goroutines — MQTT callbacks, GPIO edge waiters, serial readers,
// signal handlers — are the seed's interrupt handlers: they never touch
// loop state, they hand the loop a function through an Inlet (bounded,
// drops counted) or Post (unbounded), which the loop runs before its ready
// tasks. Blocking calls run off the loop through Offload, whose context
// only the calling task's interruption cancels.
//
// Time comes from a Clock: the real one, or a VirtualClock that jumps to
// the next timer whenever every task waits, so tests of seconds-long
// behaviour run in microseconds, the same way every time. A task that runs
// too long without awaiting — the one failure mode of cooperative
// scheduling — is logged by name.
//
// The package has no global state: loops in one process are independent.
package loop
