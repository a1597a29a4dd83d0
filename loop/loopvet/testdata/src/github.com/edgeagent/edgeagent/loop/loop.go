// Package loop is a stub of edgeagent's loop package: just the signatures
// loopvet's tests need, with the real import path.
package loop

import (
	"context"
	"errors"
	"time"
)

var ErrCancelled = errors.New("loop: task cancelled")

type TaskFunc func(t *Task) error

type Task struct {
	name string
	l    *Loop
}

func (t *Task) Sleep(d time.Duration) error   { return nil }
func (t *Task) Yield() error                  { return nil }
func (t *Task) Checkpoint() error             { return nil }
func (t *Task) SleepUntil(at time.Time) error { return nil }
func (t *Task) Wait(caller *Task) error       { return nil }
func (t *Task) Cancel()                       {}
func (t *Task) Cancelled() bool               { return false }
func (t *Task) Done() bool                    { return false }
func (t *Task) Err() error                    { return nil }
func (t *Task) Name() string                  { return t.name }
func (t *Task) String() string                { return t.name }
func (t *Task) Loop() *Loop                   { return t.l }

// protect is internal: not an await although it takes a TaskFunc and
// returns an error.
func (t *Task) protect(fn TaskFunc) error { return fn(t) }

func (t *Task) finish() {
	t.protect(func(*Task) error { return nil }) // not an await: unexported
}

type Loop struct{}

func New() *Loop                                             { return &Loop{} }
func (l *Loop) Run(ctx context.Context, main TaskFunc) error { return nil }
func (l *Loop) RunForever(ctx context.Context) error         { return nil }
func (l *Loop) Go(name string, fn TaskFunc) *Task            { return &Task{name: name, l: l} }
func (l *Loop) Post(fn func()) error                         { return nil }
func (l *Loop) OnLoop() bool                                 { return false }
func (l *Loop) NewInlet(name string, limit int) *Inlet       { return &Inlet{} }
func (l *Loop) CallSoon(fn func())                           {}
func (l *Loop) CallLater(d time.Duration, fn func()) *Timer  { return &Timer{} }
func (l *Loop) Now() time.Time                               { return time.Time{} }
func (l *Loop) Stats() Stats                                 { return Stats{} }

type Stats struct{ Tasks int }

type Timer struct{}

func (tm *Timer) Stop() bool { return false }

type WaitQueue struct{}

func (q *WaitQueue) Wait(t *Task) error { return nil }
func (q *WaitQueue) WakeOne() *Task     { return nil }
func (q *WaitQueue) WakeAll() int       { return 0 }

type Group struct{}

func NewGroup(t *Task) *Group                      { return &Group{} }
func (g *Group) Go(name string, fn TaskFunc) *Task { return nil }
func (g *Group) Wait(t *Task) error                { return nil }
func (g *Group) Stop(t *Task) error                { return nil }
func (g *Group) Cancel()                           {}
func (g *Group) Task(name string) *Task            { return nil }

func WaitFor(t *Task, d time.Duration, fn TaskFunc) error { return fn(t) }

func WaitForValue[T any](t *Task, d time.Duration, fn func(*Task) (T, error)) (T, error) {
	return fn(t)
}

func Shield(t *Task, fn TaskFunc) error { return fn(t) }

func Offload[T any](t *Task, fn func(ctx context.Context) (T, error)) (T, error) {
	return fn(context.Background())
}

type Future[T any] struct{ task *Task }

func Spawn[T any](l *Loop, name string, fn func(*Task) (T, error)) *Future[T] {
	return &Future[T]{}
}
func (f *Future[T]) Wait(waiter *Task) (T, error) { var z T; return z, nil }
func (f *Future[T]) Task() *Task                  { return f.task }

type Inlet struct{}

func (in *Inlet) TryPost(fn func()) error { return nil }
func (in *Inlet) Stats() InletStats       { return InletStats{} }
func (in *Inlet) Name() string            { return "" }

type InletStats struct{ Dropped uint64 }
