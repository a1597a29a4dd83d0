// Package escape holds check 3's cases: task handles reaching other
// goroutines, channels or package-level variables.
package escape

import (
	"context"
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

var current *loop.Task // want `package-level variable current holds task handles`

var registry = map[string]*loop.Task{} // want `package-level variable registry holds task handles`

var anything any

var counter int

func escapes(l *loop.Loop, t *loop.Task, tasks []*loop.Task, ch chan *loop.Task) {
	go func() {
		_ = t.Name() // want `task handle t is used in a go statement`
	}()
	go func() {
		for _, x := range tasks { // want `task handle tasks is used in a go statement`
			_ = x.Name()
		}
	}()
	go worker(t)        // want `task handle t is passed to a goroutine`
	go worker(tasks[0]) // want `task handle tasks\[0\] is passed to a goroutine`
	go func(x *loop.Task) {
		_ = x.Name()
	}(t) // want `task handle t is passed to a goroutine`

	// (Loop code, so the sends also block.)
	ch <- t        // want `task handle t is sent on a channel` `channel send blocks the loop`
	ch <- tasks[1] // want `task handle tasks\[1\] is sent on a channel` `channel send blocks the loop`
	select {
	case ch <- t: // want `task handle t is sent on a channel`
	default:
	}

	anything = t // want `task handle stored in package-level variable anything`
	current = t  // reported where current is declared
	registry["x"] = t

	// Offload's function runs on a goroutine of its own as well.
	if _, err := loop.Offload(t, func(ctx context.Context) (string, error) {
		return t.Name(), nil // want `task handle t is used in a loop.Offload function`
	}); err != nil {
		return
	}
	var w struct{ task *loop.Task }
	w.task = t
	go func() {
		_ = w.task.Name() // want `task handle w.task is used in a go statement`
	}()
	time.AfterFunc(time.Second, func() {
		_ = t.Name() // want `task handle t is used in a time.AfterFunc callback`
	})
}

func worker(*loop.Task) {}

// The right ways: hand the loop a function, or a method value, through Post.
func fine(l *loop.Loop, t *loop.Task, done chan struct{}) {
	go func() {
		<-done
		_ = l.Post(func() { t.Cancel() })
	}()
	go func() {
		<-done
		_ = l.Post(t.Cancel)
	}()
	go l.Post(t.Cancel)
	context.AfterFunc(context.Background(), func() { _ = l.Post(t.Cancel) })

	// A task's own handle, declared inside the goroutine's function, is
	// not captured (and a goroutine making tasks is check 4's business).
	go func() {
		var own *loop.Task
		_ = own
	}()

	// Storing other things in package-level variables is not this check.
	counter++
	local := t
	_ = local
}
