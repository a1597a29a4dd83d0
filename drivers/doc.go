// Package drivers is the root of the hardware drivers — buttons, switches,
// LEDs, I2C sensors, UART streams, AT-command modems, IR receivers, one
// sub-package each — and holds what they share on their surface: the error
// state of a polling driver (Fault) and the error of a device operation
// (DeviceError).
//
// Drivers depend on periph.io conn/v3 interfaces and go.bug.st/serial, never
// on a concrete host, and never on package bridge: the agent joins the two.
//
// # Conventions a driver follows
//
// Every driver in this tree is built, run, read and tested the same way; a
// new one follows these rules, and its tests check them.
//
// Construction. New(resource, opts ...Option) (*T, error) takes what the
// driver needs to be built — a pin, a bus, a device path, a line stream —
// and options; never the loop. It validates everything and reports every
// bad option at once (errors joined, each naming the package, the option as
// written and what is wrong: "button: WithQueueSize(0): must be at least
// 1"). It does no I/O, with one exception: led.New turns its output off, so
// that the pin is in a known state whether or not anything else happens.
//
// Options. type Option func(*config) error, one per package, applied in
// order; a nil option is skipped. Options a family shares have one name and
// one meaning everywhere: WithQueueSize, OnEvent, WithInput, ActiveHigh,
// WithDebounce, WithBackoff, WithOffload, WithPeriod.
//
// Life-cycle. A driver that watches, polls or reads has Run(t *loop.Task)
// error: its task, which binds it to t's loop, and returns only with t's
// interruption (or a configuration error it finds on the hardware, such as
// a pin without the edge detection it needs). A failing device never ends
// Run: it becomes an error state, retried with back-off. Run may run again
// after it has returned — a supervisor restarts it — never twice at once
// (ErrRunning). Methods are called on the loop; the awaits among them take
// the task first, like every await.
//
// Awaits. Every await a driver defines (uart reads and writes, atmodem
// Command, the I2C sensors' Read, led.Blink) is a checkpoint: it calls
// loop.Task.Checkpoint before it returns data it already has, so a
// cancelled task, or one whose WaitFor scope has expired, is told so at
// once and takes nothing. Where a result was handed over before the
// interruption (a modem's complete reply), the result wins, and the next
// await reports the interruption.
//
// Results. What a driver observes is published two ways, named the same
// everywhere:
//
//   - Events() *primitives.Queue[E]: the driver's own bounded queue of
//     events — gestures, contact changes, IR codes, readings, URCs — made by
//     New (WithQueueSize). When nobody takes them, the oldest is dropped to
//     make room and counted in Stats().Dropped. One consumer takes from it;
//     a second subscribes with Subscribe(size), a queue of its own that
//     gets every event from then on (closing it unsubscribes).
//     OnEvent(fn) calls fn on the loop with each event before it is queued.
//     Queues stay open when Run ends, so they survive a restart.
//   - Latest() *primitives.Event[S], for a driver with a state — a
//     reading, a contact's position, a stream's connection: it always holds
//     the newest, Wait returns at once once there is one, and any number of
//     tasks follow every change with WaitNext.
//
// Stats() returns the driver's counters. A polling driver's event carries
// its error state in place of a value: it embeds Fault, whose zero value
// means the reading is good.
//
// Errors. Sentinels are variables named Err…, made with errors.New and the
// package prefix ("nec: bad start"); details come in typed errors with
// Unwrap (*nec.DecodeError, *uart.LossError, *atmodem.Error,
// *DeviceError), matched with errors.Is and errors.As. "Closed" has one
// sentinel callers test whatever closed: primitives.ErrClosed. A driver's
// own ErrClosed (uart.ErrClosed, atmodem.ErrClosed) keeps its message and
// matches primitives.ErrClosed with errors.Is, as a closed queue does.
// Interruptions pass through unchanged: loop.ErrCancelled, loop.ErrTimeout.
//
// On the wire. Events and states marshal to JSON with lower-case keys and
// stable lower-case words: button kinds "press", "release", "double",
// "long"; NEC errors "bad_start" … "bad_address"; uart statuses
// "connecting" … "closed"; times in RFC 3339; durations in seconds with an
// _s suffix ("retry_in_s"). testdata/wire.golden shows every form, and a
// test holds them to it.
//
// Goroutines. A driver that must block (an edge wait, a serial read) does
// so on a goroutine of its own that touches no loop state: it hands its
// results over in batches through a loop.Inlet, one post in flight, with a
// bound on what waits and every drop counted. A blocking call of a task
// (an I2C transfer with WithOffload) runs on a goroutine the task waits for;
// if the task is interrupted, the next operation on that device waits until
// the abandoned call has returned.
//
// Turns. Work on the loop comes in bounded pieces: a blocking call done
// inline (an I2C transfer) takes a turn of its own, and a driver taking a
// burst that is already buffered (uart.Records) yields after a fixed
// number of items, so that no run of a task grows with its input. Tests
// hold drivers to it on a virtual clock, where the loop counts hogs by
// virtual time: the chip simulators charge each inline transfer's bus time
// to it (ChargeBusTime), and a driver holding the loop is reported the same
// way on every run.
//
// Test doubles. Each driver's double lives in a …test package beside what
// it fakes, for users' tests and the agent's demo as much as ours:
// gpiointest (a pin played by a script), buttontest (gestures: "click,
// double, press 1.2s"), nectest (a remote: frames, held keys, jitter),
// htu21dtest and adxl345test (the chips at register level, with faults),
// uarttest (a scripted serial peer). They run on the loop with no
// goroutine, exactly on a virtual clock, and are safe to use before the
// driver listens: a played script waits until the pin is watched, a peer
// keeps what it says until the stream has opened it. On the real clock (the
// agent's demo) a played script's edges carry their scheduled times, so
// what decides by the stamps sees the script as written.
package drivers
