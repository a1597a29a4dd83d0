// Package primitives is a stub of edgeagent's primitives package.
package primitives

import "github.com/edgeagent/edgeagent/loop"

type Queue[T any] struct{ items []T }

func NewQueue[T any](n int) *Queue[T]           { return &Queue[T]{} }
func (q *Queue[T]) Get(t *loop.Task) (T, error) { var z T; return z, nil }
func (q *Queue[T]) Put(t *loop.Task, v T) error { return nil }
func (q *Queue[T]) TryPut(v T) bool             { return true }
func (q *Queue[T]) Len() int                    { return len(q.items) }

type Event struct{ set bool }

func (e *Event) Set()                    { e.set = true }
func (e *Event) Clear()                  { e.set = false }
func (e *Event) IsSet() bool             { return e.set }
func (e *Event) Wait(t *loop.Task) error { return nil }

type Lock struct{}

func (l *Lock) Acquire(t *loop.Task) error { return nil }
func (l *Lock) Release()                   {}
