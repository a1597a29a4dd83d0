package loop

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"testing"
)

// BenchmarkRoundRobin is the seed's roundrobin.py: N tasks each yielding in
// a loop. One op is one turn: a task resumed and yielding again. The
// baselines, in the same run, are raw iter.Pull coroutines resumed in turn
// and a ring of goroutines handing a token over channels.
func BenchmarkRoundRobin(b *testing.B) {
	const tasks = 100
	b.Run("loop", func(b *testing.B) {
		l := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		turns := 0
		b.ReportAllocs()
		err := l.Run(context.Background(), func(t *Task) error {
			g := NewGroup(t)
			for i := 0; i < tasks; i++ {
				g.Go("", func(t *Task) error {
					for turns < b.N {
						turns++
						if err := t.Yield(); err != nil {
							return err
						}
					}
					return nil
				})
			}
			b.ResetTimer()
			return g.Wait(t)
		})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("iter.Pull", func(b *testing.B) {
		b.ReportAllocs()
		nexts := make([]func() (struct{}, bool), tasks)
		stops := make([]func(), tasks)
		for i := range nexts {
			nexts[i], stops[i] = iter.Pull(func(yield func(struct{}) bool) {
				for yield(struct{}{}) {
				}
			})
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			nexts[i%tasks]()
		}
		b.StopTimer()
		for _, stop := range stops {
			stop()
		}
	})
	b.Run("channels", func(b *testing.B) {
		b.ReportAllocs()
		ring := make([]chan int, tasks)
		for i := range ring {
			ring[i] = make(chan int)
		}
		done := make(chan struct{})
		for i := range ring {
			in, out := ring[i], ring[(i+1)%tasks]
			go func() {
				for n := range in {
					if n >= b.N {
						close(done)
						return
					}
					out <- n + 1
				}
			}()
		}
		b.ResetTimer()
		ring[0] <- 0
		<-done
		b.StopTimer()
		for i := range ring {
			close(ring[i])
		}
	})
}
