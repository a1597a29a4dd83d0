package loop

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
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

// BenchmarkSleepTimers keeps 100 000 tasks sleeping, each sleeping again
// as soon as it wakes, on a virtual clock: one op is one sleep scheduled,
// fired and resumed through the timer heap. Baseline: the same number of
// bare iter.Pull coroutines resumed in deadline order from a
// container/heap, with none of the loop's bookkeeping.
func BenchmarkSleepTimers(b *testing.B) {
	const tasks = 100_000
	delay := func(i int) time.Duration { return time.Duration(1+i%997) * time.Millisecond }
	b.Run("loop", func(b *testing.B) {
		l := New(WithClock(NewVirtualClock()), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		var sleeps int
		var done WaitQueue
		err := l.Run(context.Background(), func(t *Task) error {
			g := NewGroup(t)
			for i := range tasks {
				g.Go("", func(t *Task) error {
					for {
						if err := t.Sleep(delay(i)); err != nil {
							return err
						}
						if sleeps++; sleeps == b.N {
							done.WakeAll()
						}
					}
				})
			}
			if err := t.Yield(); err != nil { // every task starts and parks
				return err
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := done.Wait(t); err != nil {
				return err
			}
			b.StopTimer()
			return g.Stop(t)
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("iter.Pull+container/heap", func(b *testing.B) {
		h := &deadlineHeap{}
		for i := range tasks {
			c := &coro{d: delay(i)}
			c.next, c.stop = iter.Pull(func(yield func(struct{}) bool) {
				for yield(struct{}{}) {
				}
			})
			c.next() // started and parked, like the loop's tasks
			c.when = c.d
			heap.Push(h, c)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			c := heap.Pop(h).(*coro)
			c.next()
			c.when += c.d
			heap.Push(h, c)
		}
		b.StopTimer()
		for _, c := range *h {
			c.stop()
		}
	})
}

type coro struct {
	next    func() (struct{}, bool)
	stop    func()
	when, d time.Duration
}

type deadlineHeap []*coro

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(*coro)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// BenchmarkParkedTask reports the memory one task costs while it waits
// (B/task: its goroutine stack, Task and coroutine), with 100 000 parked
// at once. Baselines: a bare iter.Pull coroutine, and a goroutine blocked
// on a channel.
func BenchmarkParkedTask(b *testing.B) {
	const tasks = 100_000
	b.Run("loop", func(b *testing.B) {
		for range b.N {
			l := New(WithClock(NewVirtualClock()), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			var perTask float64
			_ = l.Run(context.Background(), func(t *Task) error {
				g := NewGroup(t)
				var err error
				perTask = memoryPer(tasks, func() {
					for range tasks {
						g.Go("", func(t *Task) error { return t.Sleep(time.Hour) })
					}
					err = t.Yield() // every task starts and parks
				})
				return errors.Join(err, g.Stop(t))
			})
			b.ReportMetric(perTask, "B/task")
		}
	})
	b.Run("iter.Pull", func(b *testing.B) {
		for range b.N {
			stops := make([]func(), 0, tasks)
			b.ReportMetric(memoryPer(tasks, func() {
				for range tasks {
					next, stop := iter.Pull(func(yield func(struct{}) bool) { yield(struct{}{}) })
					next()
					stops = append(stops, stop)
				}
			}), "B/task")
			for _, stop := range stops {
				stop()
			}
		}
	})
	b.Run("goroutine", func(b *testing.B) {
		for range b.N {
			release := make(chan struct{})
			var wg sync.WaitGroup
			b.ReportMetric(memoryPer(tasks, func() {
				for range tasks {
					wg.Add(1)
					go func() { defer wg.Done(); <-release }()
				}
			}), "B/task")
			close(release)
			wg.Wait()
		}
	})
}

// memoryPer reports the heap and stack bytes that start adds, per n.
func memoryPer(n int, start func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / float64(n)
}

// BenchmarkPostLatency measures, on an idle loop with the real clock, the
// time from Post in another goroutine to the woken task running (p50 and
// p99 in ns); "inlet" is the same through Inlet.TryPost. Baseline: a
// goroutine blocked on a channel receive, woken by a send.
func BenchmarkPostLatency(b *testing.B) {
	b.Run("loop", func(b *testing.B) {
		postLatency(b, func(l *Loop) func(func()) error { return l.Post })
	})
	b.Run("inlet", func(b *testing.B) {
		postLatency(b, func(l *Loop) func(func()) error { return l.NewInlet("bench", 64).TryPost })
	})
	b.Run("channel", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		wake := make(chan time.Time)
		next := make(chan struct{}, 1)
		go func() {
			for range b.N {
				<-next
				wake <- time.Now()
			}
		}()
		b.ResetTimer()
		for range b.N {
			next <- struct{}{}
			lat = append(lat, time.Since(<-wake))
		}
		b.StopTimer()
		reportQuantiles(b, lat)
	})
}

func postLatency(b *testing.B, entry func(*Loop) func(func()) error) {
	l := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	post := entry(l)
	lat := make([]time.Duration, 0, b.N)
	next := make(chan struct{}, 1)
	var q WaitQueue
	var sent time.Time
	go func() {
		for range b.N {
			<-next
			for !l.watch.idle.Load() { // post only to a loop waiting for work
				runtime.Gosched()
			}
			s := time.Now()
			_ = post(func() { sent = s; q.WakeOne() })
		}
	}()
	b.ResetTimer()
	err := l.Run(context.Background(), func(t *Task) error {
		for range b.N {
			select {
			case next <- struct{}{}: // always room: the poster took the last one
			default:
				return errors.New("poster fell behind")
			}
			if err := q.Wait(t); err != nil {
				return err
			}
			lat = append(lat, time.Since(sent))
		}
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	reportQuantiles(b, lat)
}

func reportQuantiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
}

// BenchmarkIdle runs 100 tasks each sleeping 1 s in a loop for 5 s of wall
// time and reports the CPU time the process used, as a percentage of one
// core. Baseline: 100 goroutines in time.Sleep(1 s) loops.
func BenchmarkIdle(b *testing.B) {
	const tasks, wall = 100, 5 * time.Second
	b.Run("loop", func(b *testing.B) {
		measureCPU(b, wall, func(ctx context.Context) {
			l := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			for range tasks {
				l.Go("sleeper", func(t *Task) error {
					for {
						if err := t.Sleep(time.Second); err != nil {
							return err
						}
					}
				})
			}
			_ = l.RunForever(ctx)
		})
	})
	b.Run("goroutines", func(b *testing.B) {
		measureCPU(b, wall, func(ctx context.Context) {
			var wg sync.WaitGroup
			for range tasks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						time.Sleep(time.Second)
					}
				}()
			}
			wg.Wait()
		})
	})
}

func measureCPU(b *testing.B, wall time.Duration, work func(ctx context.Context)) {
	var pct float64
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), wall)
		before := cpuTime()
		start := time.Now()
		work(ctx)
		pct = float64(cpuTime()-before) / float64(time.Since(start)) * 100
		cancel()
	}
	b.ReportMetric(pct, "%CPU")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
