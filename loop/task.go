package loop

import (
	"fmt"
	"runtime/debug"
	"time"
)

type taskState uint8

const (
	taskReady   taskState = iota // in the run queue
	taskRunning                  // the loop is inside it
	taskParked                   // waiting: a timer, a WaitQueue or an Offload will ready it
	taskDone
)

// A Task is a coroutine on a Loop. Its function receives it and passes it to
// every await (t.Sleep, q.Get(t), lock.Acquire(t) …), the way stdlib calls
// take a context. Only the task's own function may await on it; other code on
// the loop may Cancel it, Wait for it or ask whether it is Done.
type Task struct {
	// The fields used on every switch come first, to share a cache line.
	loop      *Loop
	state     taskState
	cancelled bool
	killed    bool
	next      func() (struct{}, bool) // iter.Pull's resume
	yield     func(struct{}) bool     // switches back to the loop
	scopes    []*scope                // WaitFor and Shield scopes, innermost last

	name      string
	fn        TaskFunc
	stop      func() // iter.Pull's stop: unwinds a parked task (kill)
	err       error
	wakeErr   error  // what the current park returns: nil when woken, else the interruption
	parkSeq   uint64 // counts parks, so a late Offload result cannot wake a later park
	retrieved bool   // someone awaited or will collect the error
	returned  bool   // its function has returned: its groups take no new children
	logged    bool   // the error has been logged already
	ignored   int    // awaits that failed at once after cancellation
	delivered uint64 // awaits that reported an interruption

	sleep   timer      // the task's own timer for Sleep
	wq      *WaitQueue // the queue the task waits in, if any
	joiners WaitQueue  // tasks in Wait on this one

	group  *Group   // the group this task is a child of
	groups []*Group // groups this task owns with children or errors left

	links [lists]link // its places in a wait queue, a group, the loop
}

// Name returns the name the task was created with.
func (t *Task) Name() string { return t.name }

// String returns the task's name, for logs.
func (t *Task) String() string { return t.name }

// Loop returns the loop the task runs on.
func (t *Task) Loop() *Loop { return t.loop }

// Done reports whether the task has finished. A cancelled task is not done
// until its function has returned (its cleanup may still be running).
func (t *Task) Done() bool { return t.state == taskDone }

// Cancelled reports whether the task has been asked to stop.
func (t *Task) Cancelled() bool { return t.cancelled }

// Err returns the task's error once it is done, and nil before. Calling it
// counts as awaiting the task: its error is then not logged as unawaited.
func (t *Task) Err() error {
	t.retrieved = true
	if t.state != taskDone {
		return nil
	}
	return t.err
}

// Cancel asks the task to stop and returns at once (call Wait to wait for
// it). If the task is waiting, its await returns ErrCancelled within the
// current loop pass; if it has not started, it never will. Every later
// await of the task fails too. Cancelling a finished task does nothing.
// Cancel is called on the loop; other goroutines use Post.
func (t *Task) Cancel() {
	if t.state == taskDone || t.cancelled {
		return
	}
	t.cancelled = true
	t.interrupt()
}

// Wait suspends the task waiter until t has finished, and returns t's
// error. If waiter is interrupted first (or already was: Wait is a
// checkpoint even when t has finished), Wait returns that interruption
// (ErrCancelled, ErrTimeout) and t goes on; Cancel t, then Wait, to stop it
// and wait for its cleanup. A waiter woken by t's end and interrupted
// before it ran still gets t's error: the result is handed over.
func (t *Task) Wait(waiter *Task) error {
	_, err := t.wait(waiter)
	return err
}

// wait is Wait that also reports whether it returns t's result (done) or
// waiter's interruption.
func (t *Task) wait(waiter *Task) (done bool, err error) {
	if waiter == t {
		panic(fmt.Sprintf("loop: task %q waits for itself", t.name))
	}
	if err := waiter.Checkpoint(); err != nil {
		return false, err
	}
	t.retrieved = true
	for t.state != taskDone {
		if err := t.joiners.Wait(waiter); err != nil {
			return false, err
		}
	}
	return true, t.err
}

// Sleep waits for d on the loop's clock (d ≤ 0 only yields, as Yield). It
// returns nil after d, or ErrCancelled / ErrTimeout at once if the task is
// cancelled or an enclosing WaitFor expires — also when that happens after
// the sleep ended but before the task ran again: a sleep hands nothing
// over, so nothing is lost by reporting the interruption.
func (t *Task) Sleep(d time.Duration) error {
	if err := t.enter(); err != nil {
		return err
	}
	if d <= 0 {
		t.requeue()
	} else {
		t.loop.schedule(&t.sleep, d)
		if err := t.park(); err != nil {
			return err
		}
	}
	return t.resumed()
}

// SleepUntil waits until the loop's clock reads at — an absolute time, for
// schedules ("every full minute") and for comparing with times read from
// the clock (Loop.Now, VirtualClock.Now, Delay.Deadline). A time already
// passed only yields. It fails as Sleep does.
func (t *Task) SleepUntil(at time.Time) error {
	return t.Sleep(at.Sub(t.loop.clock.Now()))
}

// Yield lets every other ready task run once, then resumes (the seed's
// sleep(0)). It fails like any await if the task has been interrupted —
// before the call, or while it waited for its turn (MicroPython's and
// CPython's sleep(0) raise CancelledError there too).
func (t *Task) Yield() error {
	if t.loop.current != t || t.cancelled || len(t.scopes) != 0 {
		if err := t.enter(); err != nil {
			return err
		}
	}
	// requeue, written out: each call level between a task and its switch
	// costs a mispredicted return per turn, as the stack changes under it.
	t.state = taskReady
	t.loop.runq.Push(t)
	if t.killed || !t.yield(struct{}{}) {
		panic(killSignal{})
	}
	if t.cancelled || len(t.scopes) != 0 {
		return t.deliver(t.interruption())
	}
	return nil
}

// Checkpoint reports what the task's next await would fail with:
// ErrCancelled once it is cancelled, the timeout of an expired WaitFor
// scope around it, or nil (also inside Shield). It does not yield when it
// returns nil. Returning an error, it first goes once through the loop, as
// every failing await does, so a task that ignores the error slows down
// but cannot freeze the others.
//
// Every await in loop and primitives calls it on its fast path — an item
// already queued, a free lock, a set event — so that every await is a
// checkpoint and a cancelled task cannot carry on by never blocking.
// Awaitables built elsewhere (a driver's buffered read, a bridge's queue)
// call it first the same way. Like an await, it may only be called by the
// task's own function.
func (t *Task) Checkpoint() error {
	// Two fields of the task's first cache line: the fast paths of the
	// primitives pay this on every call. (Misuse from another task is
	// caught by the awaits that park.)
	if t.cancelled || len(t.scopes) != 0 {
		return t.enter()
	}
	return nil
}

// resumed reports an interruption that arrived while the task, its await
// done, waited for its turn. Only awaits that hand nothing over use it:
// where a waker handed a value over, the wake wins (see wake).
func (t *Task) resumed() error {
	if t.cancelled || len(t.scopes) != 0 {
		return t.deliver(t.interruption())
	}
	return nil
}

// requeue puts the running task at the back of the run queue and switches
// to the loop.
func (t *Task) requeue() {
	t.state = taskReady
	t.loop.runq.Push(t)
	t.switchOut()
}

// enter starts an await: it checks that t is the running task and reports
// a pending interruption. An interrupted await still goes once through the
// loop before failing, so a task that ignores ErrCancelled in a loop slows
// down but cannot freeze the other tasks.
func (t *Task) enter() error {
	if t.loop.current != t {
		t.misuse()
	}
	if !t.cancelled && len(t.scopes) == 0 {
		return nil
	}
	err := t.interruption()
	if err != nil {
		t.noteIgnored()
		t.requeue()
	}
	return t.deliver(err)
}

func (t *Task) misuse() {
	switch {
	case t.state == taskDone:
		panic(fmt.Sprintf("loop: await on task %q, which has finished", t.name))
	case t.loop.current == nil:
		panic(fmt.Sprintf("loop: await on task %q outside its own function "+
			"(from a callback, another goroutine, or before Run)", t.name))
	default:
		panic(fmt.Sprintf("loop: await on task %q from task %q: "+
			"a *Task must only be used by its own function", t.name, t.loop.current.name))
	}
}

// noteIgnored counts awaits that fail at once after cancellation. A task
// that keeps making them is reported; during shutdown it is killed.
func (t *Task) noteIgnored() {
	if !t.cancelled {
		return
	}
	t.ignored++
	if t.ignored == ignoredCancelLimit {
		t.loop.log.Warn("loop: task keeps awaiting after it was cancelled; its function should return the error",
			"task", t.name)
	}
	if t.ignored >= ignoredCancelLimit && t.loop.stopping {
		t.logged = true
		panic(killSignal{})
	}
}

// interruption reports what an await of t must fail with, if anything:
// cancellation unless a Shield hides it, else the timeout of the outermost
// expired WaitFor scope not hidden behind a Shield (the deadline whose
// passing ends the most).
func (t *Task) interruption() error {
	var timeout *TimeoutError
	shielded := false
	for i := len(t.scopes) - 1; i >= 0 && !shielded; i-- {
		s := t.scopes[i]
		shielded = s.shield
		if s.expired {
			timeout = s.err
		}
	}
	switch {
	case t.cancelled && !shielded:
		return ErrCancelled
	case timeout != nil:
		return timeout
	}
	return nil
}

// park suspends the running task until wake (returns nil) or an
// interruption (returns it). The caller has registered t with whatever will
// wake it, after enter reported no interruption.
func (t *Task) park() error {
	t.state = taskParked
	t.switchOut()
	t.parkSeq++
	err := t.wakeErr
	t.wakeErr = nil
	return t.deliver(err)
}

// deliver notes that an await is about to report err, an interruption
// (if not nil), to the task's function: WaitFor uses the count to tell an
// interruption its function swallowed.
func (t *Task) deliver(err error) error {
	if err != nil {
		t.delivered++
	}
	return err
}

// killSignal unwinds a task being killed; protect recovers it.
type killSignal struct{}

func (t *Task) switchOut() {
	if t.killed || !t.yield(struct{}{}) {
		// Killed: a deferred cleanup that awaits again has just linked t
		// into a wait queue or the timers, and will never be woken. Unlink
		// it, or a later WakeAll would find a finished task at the head of
		// its queue that it cannot remove.
		t.unwait()
		panic(killSignal{})
	}
}

// wake readies a parked task; its park returns nil. Waking wins over a
// later interruption: the await succeeds and the next one fails, so a value
// handed to a waiter is never lost.
func (t *Task) wake() {
	if t.state != taskParked {
		return
	}
	t.unwait()
	t.state = taskReady
	t.loop.runq.Push(t)
}

// interrupt readies a parked task whose await must now fail.
func (t *Task) interrupt() {
	if t.state != taskParked {
		return
	}
	err := t.interruption()
	if err == nil {
		return // shielded
	}
	t.unwait()
	t.wakeErr = err
	t.state = taskReady
	t.loop.runq.Push(t)
}

// unwait withdraws t from whatever it is parked on.
func (t *Task) unwait() {
	if t.wq != nil {
		t.wq.remove(t)
	}
	if t.sleep.index >= 0 {
		t.loop.timers.remove(&t.sleep)
	}
}

// body is the coroutine: the task's function, then the structured
// clean-up of the groups it owns.
func (t *Task) body(yield func(struct{}) bool) {
	t.yield = yield
	err := t.protect(t.fn)
	t.returned = true
	if len(t.groups) > 0 {
		t.protect(closeGroups)
	}
	t.err = err
}

// protect runs fn, turning a panic into a *PanicError (logged with its
// stack) and a kill into ErrKilled.
func (t *Task) protect(fn TaskFunc) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if _, ok := r.(killSignal); ok {
			err = ErrKilled
			return
		}
		pe := &PanicError{Task: t.name, Value: r, Stack: debug.Stack()}
		t.loop.log.Error("loop: task panicked", "task", t.name, "panic", r, "stack", string(pe.Stack))
		t.logged = true
		err = pe
	}()
	return fn(t)
}
