package loop

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/edgeagent/edgeagent/internal/ring"
)

// Errors returned by awaits and by the loop.
var (
	// ErrCancelled is returned by every await of a task that has been
	// cancelled. Cancellation is sticky: once cancelled, every later await
	// of the task fails at once, also one that would not have to wait —
	// every await is a checkpoint (see Shield for cleanup that must await).
	ErrCancelled = errors.New("loop: task cancelled")

	// ErrTimeout is what every *TimeoutError matches (errors.Is): the
	// awaits inside a WaitFor scope whose deadline has passed fail with
	// one, and so, usually, does WaitFor itself. OwnTimeout tells whose
	// deadline it was.
	ErrTimeout = errors.New("loop: timed out")

	// ErrClosed is returned by Post and Inlet.TryPost once the loop has
	// stopped.
	ErrClosed = errors.New("loop: closed")

	// ErrInletFull is returned by Inlet.TryPost when the inlet's limit of
	// posts are queued and not yet run; the post is dropped and counted.
	ErrInletFull = errors.New("loop: inlet full")

	// ErrKilled is the error of a task that was still running when the
	// loop's shutdown timeout passed, or that kept awaiting after
	// cancellation; its deferred functions ran, the rest of its body did not.
	ErrKilled = errors.New("loop: task killed at shutdown")
)

// A PanicError is the error of a task (or Offload call) that panicked. The
// panic is logged with its stack when it happens; the loop goes on.
type PanicError struct {
	Task  string // name of the task, or of the Offload's task
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("task %q panicked: %v", e.Task, e.Value) }

// TaskFunc is the body of a task. It runs on the loop and returns when its
// work is done; an error from an await (ErrCancelled, ErrTimeout) is
// normally returned upward as it is.
type TaskFunc func(t *Task) error

// An Option configures a Loop.
type Option func(*Loop)

// WithClock sets the loop's clock; the default is RealClock(). Tests use
// NewVirtualClock to run long timings instantly and deterministically.
func WithClock(c Clock) Option { return func(l *Loop) { l.clock = c } }

// WithLogger sets the logger for panics, hogs and unawaited task errors;
// the default is slog.Default().
func WithLogger(log *slog.Logger) Option { return func(l *Loop) { l.log = log } }

// WithHogThreshold sets how long a task or callback may run without
// awaiting before it is reported as hogging the loop (default 50 ms). Zero
// or less turns the report off; the maximum run time is still measured.
// Run time is measured on the real clock — except that under a
// VirtualClock hogs are counted by the virtual time a run takes through
// VirtualClock.Advance (simulated slow hardware), the same on every run;
// real-time stalls are then only logged. Stats.MaxRun is real time always.
func WithHogThreshold(d time.Duration) Option { return func(l *Loop) { l.hogThreshold = int64(d) } }

// WithShutdownTimeout bounds, in real time, how long the loop waits at the
// end of Run for cancelled tasks and Offload calls to finish (default 5 s).
// Tasks still alive then are killed and logged by name.
func WithShutdownTimeout(d time.Duration) Option { return func(l *Loop) { l.shutdownTimeout = d } }

type runState uint8

const (
	stateNew runState = iota
	stateRunning
	stateStopped
)

// ignoredCancelLimit is how many awaits a cancelled task may make that
// fail at once before it is reported (while running) or killed (during
// shutdown): a task that drops ErrCancelled in a loop would otherwise spin.
const ignoredCancelLimit = 1000

// A Loop is a cooperative scheduler: one goroutine runs its tasks one at a
// time, each until it awaits. Everything on a Loop — spawning tasks, timers,
// primitives — is used from its tasks and callbacks only; other goroutines
// hand work in through Post, the one thread-safe entry.
type Loop struct {
	clock           Clock
	vclock          *VirtualClock // the clock, when it is virtual: hogs are measured on it
	log             *slog.Logger
	hogThreshold    int64
	shutdownTimeout time.Duration
	wallStart       time.Time // origin of real-time measurements (run time, post latency)

	state    runState
	active   atomic.Bool      // Run is under way; read by OnLoop from any goroutine
	ctx      context.Context  // Run's context without its cancellation: Offload's parent
	runq     ring.Ring[*Task] // ready tasks; nil stands for the next of callbacks
	calls    ring.Ring[call]  // ready callbacks, in order
	timers   timerHeap
	timerSeq uint64
	tasks    taskList
	current  *Task
	inbox    inbox
	inlets   []*Inlet
	idleWait *time.Timer

	offloads int   // Offload calls whose result has not reached the loop yet
	stopping bool  // in shutdown: tasks are being cancelled and drained
	killAll  bool  // shutdown timeout passed
	lastTask *Task // the task run last, nil after a callback (names hogs)

	culpritBeat uint64 // watch.beat and lastTask when the inbox drain began
	culpritTask *Task
	watch       watchdog

	stats counters
}

// New returns a loop configured by opts. It does nothing until Run.
func New(opts ...Option) *Loop {
	l := &Loop{
		log:             slog.Default(),
		hogThreshold:    int64(50 * time.Millisecond),
		shutdownTimeout: 5 * time.Second,
		wallStart:       time.Now(),
	}
	for _, o := range opts {
		o(l)
	}
	if l.clock == nil {
		l.clock = RealClock()
	}
	l.vclock, _ = l.clock.(*VirtualClock)
	l.inbox.init()
	l.tasks.which = inLoop
	return l
}

// Now reports the loop clock's current time.
func (l *Loop) Now() time.Time { return l.clock.Now() }

// Clock returns the loop's clock.
func (l *Loop) Clock() Clock { return l.clock }

// Logger returns the loop's logger, for tasks that log in its name.
func (l *Loop) Logger() *slog.Logger { return l.log }

func (l *Loop) now() int64     { return l.clock.elapsed() }
func (l *Loop) wallNow() int64 { return int64(time.Since(l.wallStart)) }

// Run runs the loop until main returns (uasyncio's run_until_complete), and
// returns main's error. Tasks still alive then are cancelled and awaited,
// so their cleanup runs before Run returns, bounded by the shutdown timeout.
//
// Cancelling ctx cancels main — and through main's groups its children —
// exactly like Task.Cancel: shielded cleanup still runs, Offload calls
// included (their context is not ctx's; see Offload). This is the route a
// signal takes (signal.NotifyContext). Values of ctx reach Offload calls.
//
// A Loop runs once; a second Run panics.
func (l *Loop) Run(ctx context.Context, main TaskFunc) error {
	if l.state != stateNew {
		panic("loop: Run called on a loop that is running or has run; a Loop runs once")
	}
	l.state = stateRunning
	l.active.Store(true)
	defer l.active.Store(false)
	l.ctx = context.WithoutCancel(ctx)
	l.startWatchdog()
	defer l.stopWatchdog()
	mt := l.Go("main", main)
	mt.retrieved = true // Run returns its error
	stop := context.AfterFunc(ctx, func() { _ = l.Post(mt.Cancel) })
	defer stop()
	for mt.state != taskDone {
		l.pass()
	}
	l.shutdown()
	return mt.err
}

// RunForever runs the loop until ctx is done, then cancels every task,
// waits for them and returns nil. An error is returned only if the loop's
// idle task failed, which does not happen in practice.
func (l *Loop) RunForever(ctx context.Context) error {
	err := l.Run(ctx, func(t *Task) error {
		var never WaitQueue
		return never.Wait(t)
	})
	if errors.Is(err, ErrCancelled) {
		return nil
	}
	return err
}

// Go creates a task running fn and queues it to run after the tasks already
// ready (a new task runs only after its creator awaits). It is called
// before Run or on the loop. The task is not part of any group: its error,
// if nobody awaits it with Wait, is logged. Names are for logs and stats
// and need not be unique; Group.Go gives unique, looked-up names.
func (l *Loop) Go(name string, fn TaskFunc) *Task {
	if l.state == stateStopped {
		panic(fmt.Sprintf("loop: Go(%q) on a loop that has stopped", name))
	}
	t := &Task{loop: l, name: name, fn: fn, state: taskReady}
	t.sleep.index = -1
	t.sleep.task = t
	l.tasks.push(t)
	l.stats.spawned++
	l.runq.Push(t)
	return t
}

// CallSoon queues fn to run on the loop after the entries already ready,
// like a task that never awaits. Called before Run or on the loop.
func (l *Loop) CallSoon(fn func()) {
	l.calls.Push(call{fn: fn})
	l.runq.Push(nil)
}

// call is a ready callback: a function, or a fired Timer, which may still
// be stopped or reset before its turn comes.
type call struct {
	fn    func()
	timer *Timer
	gen   uint64 // the timer's generation when it fired
}

func (c call) run(l *Loop) {
	if c.timer == nil {
		l.callback(c.fn)
		return
	}
	if c.gen != c.timer.gen {
		return // stopped or reset after it fired
	}
	c.timer.queued = false
	l.callback(c.timer.t.fn)
}

// CallLater schedules fn to run on the loop once d has passed on the loop's
// clock. d ≤ 0 runs it on the next pass. Called before Run or on the loop;
// other goroutines use Post.
func (l *Loop) CallLater(d time.Duration, fn func()) *Timer {
	tm := &Timer{l: l}
	tm.t.index = -1
	tm.t.fn = fn
	tm.t.owner = tm
	l.schedule(&tm.t, d)
	return tm
}

func (l *Loop) schedule(tm *timer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	tm.when = l.now() + int64(d)
	l.timerSeq++
	tm.seq = l.timerSeq
	l.timers.push(tm)
}

// pass is one turn of the loop: posts first (the seed's interrupts), then
// due timers, then the entries that were ready when the pass began, so every
// ready task gets one turn per pass.
func (l *Loop) pass() {
	drained := l.inbox.pending()
	if drained {
		l.drainInbox()
	}
	l.fireTimers()
	n := l.runq.Len()
	if n == 0 {
		if !drained { // a post may have changed what Run waits for: look again first
			l.idle()
		}
		return
	}
	for ; n > 0; n-- {
		t := l.runq.Pop()
		if t == nil {
			l.calls.Pop().run(l)
		} else if t.state == taskReady && (t.next != nil || l.startTask(t)) {
			// resume, written out: see Task.Yield.
			t.state = taskRunning
			l.current = t
			l.lastTask = t
			l.watch.beat.Add(1)
			v0 := l.virtualNow()
			_, alive := t.next()
			if l.vclock != nil {
				l.virtualRun(t.name, v0)
			}
			l.current = nil
			if !alive {
				l.finish(t, t.err)
			}
		}
		if l.inbox.pending() {
			l.drainInbox()
		}
	}
}

func (l *Loop) fireTimers() {
	if len(l.timers) == 0 {
		return
	}
	now := l.now()
	for len(l.timers) > 0 && l.timers[0].when <= now {
		tm := l.timers[0]
		l.timers.remove(tm)
		l.stats.timersFired++
		switch {
		case tm.task != nil:
			tm.task.wake()
		case tm.scope != nil:
			tm.scope.expire()
		default:
			tm.owner.queued = true
			l.calls.Push(call{timer: tm.owner, gen: tm.owner.gen})
			l.runq.Push(nil)
		}
	}
}

// idle waits, with nothing ready to run, for the next timer or post. A
// virtual clock jumps to the next timer instead, unless a Post or an Offload
// is on its way — then waiting for it keeps the run deterministic.
func (l *Loop) idle() {
	if l.inbox.pending() {
		return
	}
	var deadline <-chan time.Time
	if len(l.timers) > 0 {
		next := l.timers[0].when
		if vc, virtual := l.clock.(*VirtualClock); virtual {
			if l.offloads == 0 {
				vc.advanceTo(next)
				return
			}
		} else {
			d := time.Duration(next - l.now())
			if d <= 0 {
				return
			}
			if l.idleWait == nil {
				l.idleWait = time.NewTimer(d)
			} else {
				l.idleWait.Reset(d)
			}
			deadline = l.idleWait.C
		}
	}
	l.stats.idleWaits++
	l.watch.setIdle()
	select {
	case <-l.inbox.wake:
	case <-deadline:
	}
	l.watch.setBusy()
}

// startTask creates a task's coroutine when it first runs; a task
// cancelled before then finishes without running.
func (l *Loop) startTask(t *Task) bool {
	if t.cancelled {
		l.finish(t, ErrCancelled)
		return false
	}
	t.next, t.stop = iter.Pull(t.body)
	return true
}

// callback runs a callback, timer function or posted function, turning a
// panic into a log line. OnLoop looks for it on the stack: keep it a
// function of its own.
//
//go:noinline
func (l *Loop) callback(fn func()) {
	l.lastTask = nil
	l.watch.beat.Add(1)
	v0 := l.virtualNow()
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("loop: callback panicked", "panic", r, "stack", string(debug.Stack()))
		}
		if l.vclock != nil {
			l.virtualRun("callback", v0)
		}
	}()
	fn()
}

func (l *Loop) finish(t *Task, err error) {
	t.state = taskDone
	t.err = err
	t.next, t.stop, t.yield, t.fn = nil, nil, nil, nil
	l.tasks.remove(t)
	if t.group != nil {
		t.group.childDone(t)
		t.retrieved = true
	}
	if t.joiners.Len() > 0 {
		t.retrieved = true
		t.joiners.WakeAll()
	}
	if err != nil && !t.retrieved && !t.logged && !cancelOnly(err) {
		t.logged = true
		l.log.Error("loop: task failed and nobody awaits it", "task", t.name, "err", err)
	}
}

// shutdown cancels every task still alive and runs the loop until they and
// any Offload calls have finished, or the shutdown timeout has passed.
func (l *Loop) shutdown() {
	l.stopping = true
	for t := l.tasks.head; t != nil; t = l.tasks.next(t) {
		t.Cancel()
	}
	timeout := time.AfterFunc(l.shutdownTimeout, func() { _ = l.Post(func() { l.killAll = true }) })
	for l.tasks.n > 0 || l.offloads > 0 {
		if l.killAll {
			l.killRemaining()
			break
		}
		l.pass()
	}
	timeout.Stop()
	if l.idleWait != nil {
		l.idleWait.Stop()
	}
	for _, p := range l.inbox.close() {
		l.runPosted(p) // posted before the close: run, not lost
	}
	l.state = stateStopped
}

func (l *Loop) killRemaining() {
	for l.tasks.n > 0 {
		t := l.tasks.head
		l.log.Error("loop: task did not finish within the shutdown timeout; killed",
			"task", t.name, "timeout", l.shutdownTimeout)
		l.kill(t)
	}
	if l.offloads > 0 {
		l.log.Error("loop: Offload calls still outstanding at shutdown; their results are dropped",
			"count", l.offloads)
	}
}

// kill unwinds a task that is parked or ready: its pending await panics
// with an internal value that its deferred functions see pass by, and its
// error becomes ErrKilled.
func (l *Loop) kill(t *Task) {
	t.killed = true
	t.logged = true
	if t.next == nil {
		l.finish(t, ErrKilled)
		return
	}
	t.unwait()
	t.state = taskRunning
	l.current = t
	t.stop()
	l.current = nil
	l.finish(t, t.err)
}

// A task is linked into up to three lists at once — the loop's live
// tasks, its group's children, the wait queue it waits in — through its own
// links, so none of them allocates.
const (
	inQueue = iota // zero, so that the zero WaitQueue is ready to use
	inGroup
	inLoop
	lists
)

type link struct{ prev, next *Task }

// taskList is an intrusive doubly linked list of tasks, in order of
// arrival, through the tasks' links[which].
type taskList struct {
	head, tail *Task
	n          int
	which      int
}

func (s *taskList) push(t *Task) {
	t.links[s.which].prev = s.tail
	if s.tail != nil {
		s.tail.links[s.which].next = t
	} else {
		s.head = t
	}
	s.tail = t
	s.n++
}

func (s *taskList) remove(t *Task) {
	l := &t.links[s.which]
	if l.prev != nil {
		l.prev.links[s.which].next = l.next
	} else {
		s.head = l.next
	}
	if l.next != nil {
		l.next.links[s.which].prev = l.prev
	} else {
		s.tail = l.prev
	}
	*l = link{}
	s.n--
}

// next returns the task after t in the list.
func (s *taskList) next(t *Task) *Task { return t.links[s.which].next }
