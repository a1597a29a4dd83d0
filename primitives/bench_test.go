package primitives

import (
	"context"
	"testing"

	"github.com/edgeagent/edgeagent/loop"
)

// BenchmarkQueuePingPong hands items from a producer task to a consumer
// task through a bounded Queue; one op is one item. Baseline: a buffered
// channel of the same size between two goroutines.
func BenchmarkQueuePingPong(b *testing.B) {
	const size = 64
	b.Run("queue", func(b *testing.B) {
		l := quietLoop()
		q := NewQueue[int](size)
		b.ReportAllocs()
		err := l.Run(context.Background(), func(t *loop.Task) error {
			g := loop.NewGroup(t)
			g.Go("producer", func(t *loop.Task) error {
				for i := range b.N {
					if err := q.Put(t, i); err != nil {
						return err
					}
				}
				return nil
			})
			g.Go("consumer", func(t *loop.Task) error {
				for range b.N {
					if _, err := q.Get(t); err != nil {
						return err
					}
				}
				return nil
			})
			b.ResetTimer()
			return g.Wait(t)
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("channel", func(b *testing.B) {
		ch := make(chan int, size)
		done := make(chan struct{})
		b.ReportAllocs()
		b.ResetTimer()
		go func() {
			for range b.N {
				<-ch
			}
			close(done)
		}()
		for i := range b.N {
			ch <- i
		}
		<-done
	})
}

// BenchmarkEventWake: a task sets an event and waits for the reply event
// set by the task it woke; one op is one set → waiter resumed.
func BenchmarkEventWake(b *testing.B) {
	l := quietLoop()
	var ping, pong Event[int]
	b.ReportAllocs()
	err := l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("ponger", func(t *loop.Task) error {
			for i := 0; i < b.N; i += 2 {
				v, err := ping.Wait(t)
				if err != nil {
					return err
				}
				ping.Clear()
				pong.Set(v)
			}
			return nil
		})
		b.ResetTimer()
		for i := 0; i < b.N; i += 2 {
			ping.Set(i)
			if _, err := pong.Wait(t); err != nil {
				return err
			}
			pong.Clear()
		}
		return g.Wait(t)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLockContended: 1000 tasks take turns on one lock, each
// yielding while holding it; one op is one acquire and release.
func BenchmarkLockContended(b *testing.B) {
	const tasks = 1000
	l := quietLoop()
	var lock Lock
	n := 0
	b.ReportAllocs()
	err := l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		for range tasks {
			g.Go("", func(t *loop.Task) error {
				for n < b.N {
					if err := lock.Acquire(t); err != nil {
						return err
					}
					n++
					if err := t.Yield(); err != nil {
						return err
					}
					if err := lock.Release(t); err != nil {
						return err
					}
				}
				return nil
			})
		}
		b.ResetTimer()
		return g.Wait(t)
	})
	if err != nil {
		b.Fatal(err)
	}
}
