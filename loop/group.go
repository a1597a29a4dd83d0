package loop

import (
	"errors"
	"fmt"
	"time"
)

// A Group is a set of child tasks owned by one task (structured
// concurrency; the seed's Cancellable groups and NamedTask): the owner's
// Wait or Stop returns only when every child has ended, and if the owner's
// function returns first, its children are cancelled and waited for before
// the owner counts as done. No child outlives its owner.
//
// Children are independent by default: one that fails leaves the others
// running (FailFast changes that). A failure is not silent until the
// group ends, though: it is logged at once with the child's name and error,
// counted in the loop's Stats (ChildFailures), and handed as it happens to
// an OnChildFailure function, which may restart the child.
//
// Children have unique names while they run, and can be looked up by name.
type Group struct {
	owner     *Task
	failFast  bool
	onFailure func(child *Task, err error)
	children  taskList // running, through links[inGroup]
	names     map[string]*Task
	errs      []error
	done      WaitQueue
	closed    bool // the owner has returned: no new children
	owned     bool // listed in owner.groups
}

// A GroupOption configures a Group.
type GroupOption func(*Group)

// FailFast makes the first child error (other than ErrCancelled) cancel the
// rest of the group, as errgroup and Trio's nursery do; the owner's Wait
// then returns it. By default children are independent: one failing leaves
// the others running.
func FailFast() GroupOption { return func(g *Group) { g.failFast = true } }

// OnChildFailure has fn called, on the loop, each time a child ends with an
// error other than a plain cancellation — a supervisor's hook. It runs
// after the child's end is recorded (it has left the group, its name is
// free), so fn may start a replacement with g.Go under the same name, at
// once or later (check Closed first then). A panic in fn is logged.
//
// The failure is fn's to handle: Wait and Stop do not return it as well —
// except in a FailFast group, where it is why the rest were cancelled — so
// a group restarting a flaky child for months keeps no list of old errors.
// A child that was cancelled (by Cancel, Stop, an interrupted Wait, the
// owner's return) and fails in its cleanup is not passed to fn — nobody
// restarts what is being stopped — and its error goes to Wait and Stop.
// Every failure is logged and counted either way.
func OnChildFailure(fn func(child *Task, err error)) GroupOption {
	return func(g *Group) { g.onFailure = fn }
}

// NewGroup returns an empty group owned by t. It is called from t's function.
func NewGroup(t *Task, opts ...GroupOption) *Group {
	if t.loop.current != t {
		t.misuse()
	}
	g := &Group{owner: t, children: taskList{which: inGroup}}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Go starts a child task named name (see Loop.Go for when it runs). A name
// may be reused once its previous holder has ended; a duplicate live name
// panics, as the seed's NamedTask raised. An empty name is never looked up.
func (g *Group) Go(name string, fn TaskFunc) *Task {
	if g.Closed() {
		panic(fmt.Sprintf("loop: Group.Go(%q) after the group's owner %q returned", name, g.owner.name))
	}
	if name != "" {
		if g.names[name] != nil {
			panic(fmt.Sprintf("loop: Group.Go: a task named %q is already running in the group", name))
		}
		if g.names == nil {
			g.names = make(map[string]*Task)
		}
	}
	t := g.owner.loop.Go(name, fn)
	t.group = g
	g.children.push(t)
	if name != "" {
		g.names[name] = t
	}
	g.own()
	return t
}

// Task returns the running child named name, or nil if none runs. A child
// that has been cancelled is found until it has actually ended.
func (g *Group) Task(name string) *Task { return g.names[name] }

// Closed reports whether the owner's function has returned: the group
// takes no new children then (Go panics).
func (g *Group) Closed() bool { return g.closed || g.owner.returned || g.owner.state == taskDone }

// Len reports how many children are running.
func (g *Group) Len() int { return g.children.n }

// Cancel cancels every running child and returns at once; Wait then waits
// for their cleanup. It may be called from any code on the loop.
func (g *Group) Cancel() {
	for c := g.children.head; c != nil; c = g.children.next(c) {
		c.Cancel()
	}
}

// Wait suspends the owner t until every child has ended and returns their
// errors joined, each prefixed by the child's name. A child that was merely
// cancelled is not an error here; one that reports a failure beside its
// cancellation (errors.Join(ErrCancelled, cleanupErr)) is.
// If t is interrupted first (or already was: Wait is a checkpoint even with
// no children), the children are cancelled and still waited for — their
// cleanup finishes before Wait returns — and the result includes the
// interruption (ErrCancelled, ErrTimeout).
func (g *Group) Wait(t *Task) error {
	g.mustOwn(t)
	err := t.Checkpoint()
	for err == nil && g.children.n > 0 {
		err = g.done.Wait(t)
	}
	if err != nil {
		g.Cancel()
		g.waitQuiet(t)
	}
	return errors.Join(err, g.takeErrs())
}

// Stop cancels every child and waits until all have ended (the seed's
// cancel_all without nowait), even if the owner t is itself cancelled
// meanwhile. It returns the children's errors as Wait does, joined with t's
// own interruption if it has one (Checkpoint's answer once the children
// have ended), so a task that ends with "return g.Stop(t)" after being
// cancelled still reports ErrCancelled.
func (g *Group) Stop(t *Task) error {
	g.mustOwn(t)
	g.Cancel()
	g.waitQuiet(t)
	return errors.Join(t.Checkpoint(), g.takeErrs())
}

func (g *Group) mustOwn(t *Task) {
	if t != g.owner {
		panic(fmt.Sprintf("loop: group owned by task %q waited on by task %q", g.owner.name, t.name))
	}
}

// waitQuiet waits for every child to end, ignoring interruptions of t.
func (g *Group) waitQuiet(t *Task) {
	t.scopes = append(t.scopes, shieldScope)
	defer t.popScope(shieldScope)
	for g.children.n > 0 {
		if g.done.Wait(t) != nil {
			return // shielded: only a kill gets here, and it unwinds
		}
	}
}

func (g *Group) childDone(c *Task) {
	g.children.remove(c)
	if c.name != "" && g.names[c.name] == c {
		delete(g.names, c.name)
	}
	if c.err != nil && !cancelOnly(c.err) {
		g.childFailed(c)
	}
	if g.children.n == 0 {
		g.done.WakeAll()
		g.disown()
	}
}

// childFailed records a child's failure: counted, logged at once unless
// the group is FailFast (its owner hears of it from Wait straight away),
// then kept for Wait or handed to the OnChildFailure hook.
func (g *Group) childFailed(c *Task) {
	l := g.owner.loop
	l.stats.childFailures++
	if !g.failFast {
		l.log.Error("loop: group child failed", "task", c.name, "owner", g.owner.name, "err", c.err)
	}
	hooked := g.onFailure != nil && !c.cancelled
	if !hooked || g.failFast {
		g.errs = append(g.errs, fmt.Errorf("%s: %w", c.name, c.err))
	}
	if g.failFast {
		g.Cancel()
	}
	if hooked {
		fn := g.onFailure
		l.callback(func() { fn(c, c.err) })
	}
}

// cancelOnly reports whether err says nothing but that the task was
// cancelled: ErrCancelled, perhaps wrapped. A cancelled task that also
// reports a cleanup failure — errors.Join(ErrCancelled, err) — does not
// qualify: that failure must reach someone.
func cancelOnly(err error) bool {
	for err != nil {
		if err == ErrCancelled {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if !cancelOnly(e) {
					return false
				}
			}
			return true
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

func (g *Group) takeErrs() error {
	err := errors.Join(g.errs...)
	g.errs = nil
	g.disown()
	return err
}

// own lists g in its owner's groups, so the owner's exit can close it; a
// group leaves the list once it has no children and no errors to report,
// so a task that makes groups in a loop does not accumulate them.
func (g *Group) own() {
	if !g.owned {
		g.owned = true
		g.owner.groups = append(g.owner.groups, g)
	}
}

func (g *Group) disown() {
	if !g.owned || g.children.n > 0 || len(g.errs) > 0 {
		return
	}
	gs := g.owner.groups
	for i, x := range gs {
		if x == g {
			gs[i] = gs[len(gs)-1]
			gs[len(gs)-1] = nil
			g.owner.groups = gs[:len(gs)-1]
			break
		}
	}
	g.owned = false
}

// closeGroups runs after the owner's function returned: children still
// running are cancelled and waited for; errors nobody collected are logged
// (those of FailFast groups: the others were logged when they happened).
func closeGroups(t *Task) error {
	for len(t.groups) > 0 {
		g := t.groups[0]
		g.closed = true
		if g.children.n > 0 {
			g.Cancel()
			g.waitQuiet(t)
		}
		if err := g.takeErrs(); err != nil && g.failFast {
			t.loop.log.Error("loop: group children failed and the owner never waited for them",
				"owner", t.name, "err", err)
		}
		g.disown()
	}
	return nil
}

// A Job is one function for Gather: Fn runs as a child task named Name,
// bounded by Timeout when it is positive (the seed's Gatherable).
type Job[T any] struct {
	Name    string
	Fn      func(*Task) (T, error)
	Timeout time.Duration
}

// A Result is what one Job produced.
type Result[T any] struct {
	Value T
	Err   error
}

// Gather runs the jobs concurrently as children of t and waits for all of
// them. Results come in the jobs' order, each with its own error: a job
// that fails or times out does not disturb the others. The returned error
// is non-nil only when t itself was interrupted; the jobs are then cancelled
// and waited for, and their results are as far as they got.
func Gather[T any](t *Task, jobs ...Job[T]) ([]Result[T], error) {
	res := make([]Result[T], len(jobs))
	g := NewGroup(t)
	for i, j := range jobs {
		res[i].Err = ErrCancelled // what a job that never ran reports
		name := j.Name
		if name == "" {
			name = fmt.Sprintf("gather[%d]", i)
		}
		g.Go(name, func(t *Task) error {
			if j.Timeout > 0 {
				res[i].Value, res[i].Err = WaitForValue(t, j.Timeout, j.Fn)
			} else {
				res[i].Value, res[i].Err = j.Fn(t)
			}
			return nil
		})
	}
	return res, g.Wait(t)
}

// A Future is a task that produces a value.
type Future[T any] struct {
	task  *Task
	value T
}

// Spawn starts fn as a task like Loop.Go and returns a Future for its value.
func Spawn[T any](l *Loop, name string, fn func(*Task) (T, error)) *Future[T] {
	f := &Future[T]{}
	f.task = l.Go(name, func(t *Task) error {
		v, err := fn(t)
		f.value = v
		return err
	})
	return f
}

// Task returns the future's task, to Cancel it or check Done.
func (f *Future[T]) Task() *Task { return f.task }

// Wait suspends the task waiter until the future's task has finished, and
// returns its value and error. If waiter is interrupted first, Wait returns
// the zero value and the interruption, and the future's task goes on.
func (f *Future[T]) Wait(waiter *Task) (T, error) {
	done, err := f.task.wait(waiter)
	if !done {
		var zero T
		return zero, err
	}
	return f.value, err
}
