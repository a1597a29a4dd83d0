// Package i2cdev is the plumbing the I2C sensor drivers (htu21d, adxl345)
// share: one device's bus transfers, inline or on a goroutine of their own,
// with a panicking bus turned into an error and an abandoned transfer never
// overlapped by the next; the lock that serialises a device's
// operations and the rule that a failed one makes the next initialise the
// chip again; a polling task's loop (Poller.Run) — its schedule, back-off
// and logging after failed readings; and the wrapping of failures as
// drivers.DeviceError. Inline transfers take a turn of the loop each.
//
// It must not know any chip: commands, timings and the sentinels users
// match stay in the drivers.
package i2cdev

import (
	"context"
	"errors"
	"runtime/debug"
	"time"

	"periph.io/x/conn/v3"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/internal/await"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// A Dev is one chip on a bus as a driver uses it from tasks of one loop:
// transfers, and operations serialised by a lock that keep track of whether
// the chip must be initialised first. A new Dev needs initialising.
type Dev struct {
	conn    conn.Conn
	offload bool

	lock      primitives.Lock
	ready     bool      // initialised, and no operation has failed since
	abandoned *transfer // an offloaded transfer whose task stopped waiting, until it ends

	// AfterAbandoned, if set, is called by Locked, on the loop, when a
	// transfer abandoned by an interrupted operation has ended, with the
	// loop's time then, before the next operation starts: a chip that may
	// still be busy with what that transfer began gets time to finish it.
	AfterAbandoned func(ended time.Time)
}

// transfer is one offloaded bus transaction, seen from the loop: whether
// it has ended.
type transfer struct {
	done bool
	wq   loop.WaitQueue
}

// New returns a Dev that transfers through c, inline or, with offload, on a
// goroutine per transfer.
func New(c conn.Conn, offload bool) *Dev { return &Dev{conn: c, offload: offload} }

// Tx writes w and then reads n bytes in one bus transaction, inline or
// through loop.Offload. The read buffer is fresh each time.
//
// Inline, each transfer starts a turn of its own (a Yield, which is also
// the checkpoint): a chain of transfers — an initialisation, a FIFO read —
// holds the loop one transfer at a time, never the whole chain.
//
// Offloaded, a task interrupted during the transfer returns at once, and
// the transfer goes on to its end on its goroutine: it is abandoned, and
// the next operation under Locked waits until it has ended, so the chip
// never sees two transactions at once. A virtual clock does not move while
// a transfer is on the bus.
func (d *Dev) Tx(t *loop.Task, w []byte, n int) ([]byte, error) {
	name := t.Name()
	if !d.offload {
		if err := t.Yield(); err != nil {
			return nil, err
		}
		return doTransfer(d.conn, name, w, n)
	}
	// Past this checkpoint Offload starts the transfer: nothing on the
	// loop can interrupt the task in between.
	if err := await.Checkpoint(t); err != nil {
		return nil, err
	}
	l := t.Loop()
	x := &transfer{}
	c := d.conn
	r, err := loop.Offload(t, func(context.Context) ([]byte, error) {
		r, err := doTransfer(c, name, w, n)
		// Posted before Offload's own result, so the loop learns that the
		// transfer has ended even when the task stopped waiting for it.
		_ = l.Post(func() {
			x.done = true
			x.wq.WakeAll()
		})
		return r, err
	})
	if err != nil && !x.done && Interrupted(err) {
		d.abandoned = x
	}
	return r, err
}

// doTransfer does one bus transaction. A bus implementation that panics
// (a test playback does on a mismatch) becomes a *loop.PanicError, as in
// an Offload, so that the driver publishes an error state instead of
// dying.
func doTransfer(c conn.Conn, task string, w []byte, n int) (r []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, &loop.PanicError{Task: task, Value: p, Stack: debug.Stack()}
		}
	}()
	if n > 0 {
		r = make([]byte, n)
	}
	return r, c.Tx(w, r)
}

// Locked runs fn holding the device's lock. A failure in it other than the
// task's interruption makes NeedsInit true: the chip may have reset or
// wedged, so the next operation starts by initialising it.
//
// Before fn, Locked waits for a transfer abandoned by an interrupted
// operation to end (see Tx); the chip may be left mid-command then, so the
// next operation initialises it again.
func (d *Dev) Locked(t *loop.Task, fn loop.TaskFunc) error {
	if err := await.Checkpoint(t); err != nil {
		return err
	}
	err := d.lock.With(t, func(t *loop.Task) error {
		if err := d.settle(t); err != nil {
			return err
		}
		return fn(t)
	})
	if err != nil && !Interrupted(err) {
		d.ready = false
	}
	return err
}

// settle waits until an abandoned transfer, if any, has ended.
func (d *Dev) settle(t *loop.Task) error {
	x := d.abandoned
	if x == nil {
		return nil
	}
	for !x.done {
		if err := x.wq.Wait(t); err != nil {
			return err
		}
	}
	d.abandoned, d.ready = nil, false
	if d.AfterAbandoned != nil {
		d.AfterAbandoned(t.Loop().Now())
	}
	return nil
}

// NeedsInit reports whether the chip must be initialised before it is used:
// at first, and after a failed operation.
func (d *Dev) NeedsInit() bool { return !d.ready }

// Initialised records that the chip has just been initialised.
func (d *Dev) Initialised() { d.ready = true }

// Interrupted reports whether err is the task's interruption — cancellation
// or an enclosing WaitFor's deadline — rather than a device failure. An
// interruption passes through the drivers unchanged.
func Interrupted(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}

// Backoff returns the wait after the n-th consecutive failure (n ≥ 1):
// first·2^(n−1), capped at max. No jitter: one chip on its own bus has no
// herd to spread out, and the schedule stays testable.
func Backoff(first, max time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// A Poller is a polling task's bookkeeping of failures: how many in a
// row, the back-off before the next try (Backoff(First, Max, failures)),
// and one log line when a run of failures starts and one when it ends,
// not one per failure.
type Poller struct {
	Name       string // the device, for logs
	First, Max time.Duration
	failures   int
}

// Fail records a failed reading and returns the error state to publish.
func (p *Poller) Fail(t *loop.Task, err error) drivers.Fault {
	p.failures++
	wait := Backoff(p.First, p.Max, p.failures)
	if p.failures == 1 {
		t.Loop().Logger().Warn("i2c: reading failed; retrying with back-off", "device", p.Name, "err", err, "retry_in", wait)
	}
	return drivers.Fault{Err: err, Failures: p.failures, RetryIn: wait}
}

// Succeed records a good reading and reports whether it ended a run of
// failures.
func (p *Poller) Succeed(t *loop.Task) (recovered bool) {
	if p.failures > 0 {
		t.Loop().Logger().Info("i2c: reading again", "device", p.Name, "after_failures", p.failures)
	}
	recovered, p.failures = p.failures > 0, 0
	return recovered
}

// Run is a polling driver's Run loop: poll at once, then a period after
// the previous poll started, so the schedule does not drift by the time a
// poll takes. A failed poll is recorded (Fail), handed to failed with the
// loop's time and the error state to publish, and the next poll waits the
// back-off from then instead; a good one ends a run of failures
// (Succeed). Run returns only t's interruption, from poll or a sleep.
func (p *Poller) Run(t *loop.Task, period time.Duration, poll loop.TaskFunc, failed func(at time.Time, f drivers.Fault)) error {
	l := t.Loop()
	for {
		start := l.Now()
		err := poll(t)
		if Interrupted(err) {
			return err
		}
		next := start.Add(period)
		if err != nil {
			now := l.Now()
			f := p.Fail(t, err)
			failed(now, f)
			next = now.Add(f.RetryIn)
		} else {
			p.Succeed(t)
		}
		if err := t.Sleep(next.Sub(l.Now())); err != nil {
			return err
		}
	}
}

// Fail wraps a failure of operation op on device as a
// *drivers.DeviceError; the task's interruptions pass unchanged.
func Fail(device, op string, err error) error {
	if Interrupted(err) {
		return err
	}
	return &drivers.DeviceError{Device: device, Op: op, Err: err}
}
