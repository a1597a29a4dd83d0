package outlet_test

import (
	"fmt"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
)

// Send calls the callback before queueing; a full queue drops its oldest
// and counts it, and so does a closed one; Notify and Queue do one half
// each.
func TestOutlet(t *testing.T) {
	var log []string
	var o *outlet.Outlet[int]
	o = outlet.New(2, func(e int) { log = append(log, fmt.Sprintf("cb %d (queued %d)", e, o.Events().Len())) })
	for e := range 3 {
		o.Send(e)
	}
	o.Notify(10)
	o.Queue(11)
	var queued []int
	for e, err := o.Events().TryGet(); err == nil; e, err = o.Events().TryGet() {
		queued = append(queued, e)
	}
	if want := "[cb 0 (queued 0) cb 1 (queued 1) cb 2 (queued 2) cb 10 (queued 2)]"; fmt.Sprint(log) != want {
		t.Errorf("callback log %v, want %s", log, want)
	}
	if fmt.Sprint(queued) != "[2 11]" || o.Dropped() != 2 {
		t.Errorf("queued %v, dropped %d; want [2 11], 2", queued, o.Dropped())
	}
	o.Events().Close()
	o.Send(12)
	if o.Dropped() != 3 {
		t.Errorf("dropped %d after a send to a closed queue, want 3", o.Dropped())
	}

	silent := outlet.New[string](1, nil)
	silent.Send("a")
	if e, err := silent.Events().TryGet(); err != nil || e != "a" || silent.Dropped() != 0 {
		t.Errorf("without a callback: %q, %v, dropped %d", e, err, silent.Dropped())
	}
}

// A subscriber gets every event queued after it subscribed, with its own
// bound; closing it unsubscribes; Sent counts queued events.
func TestSubscribe(t *testing.T) {
	o := outlet.New[int](4, nil)
	o.Send(1)
	a := o.Subscribe(1)
	b := o.Subscribe(0) // at least 1
	o.Send(2)
	o.Send(3) // a and b drop 2
	b.Close()
	o.Send(4) // b is forgotten: not counted as a loss
	var got []string
	for _, q := range []interface {
		TryGet() (int, error)
	}{o.Events(), a, b} {
		var items []int
		for v, err := q.TryGet(); err == nil; v, err = q.TryGet() {
			items = append(items, v)
		}
		got = append(got, fmt.Sprint(items))
	}
	if fmt.Sprint(got) != "[[1 2 3 4] [4] [3]]" || o.Dropped() != 3 || o.Sent() != 4 {
		t.Errorf("own, a, b = %v; dropped %d, sent %d; want [[1 2 3 4] [4] [3]], 3, 4", got, o.Dropped(), o.Sent())
	}
}
