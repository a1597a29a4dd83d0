package i2cdev_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/internal/i2cdev"
	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
	"github.com/edgeagent/edgeagent/loop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func run(t *testing.T, main loop.TaskFunc) {
	t.Helper()
	l := loop.New(loop.WithClock(loop.NewVirtualClock()))
	if err := l.Run(context.Background(), main); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// 1 s doubling, capped at 4 s: 1, 2, 4, 4 …; a cap below the doubling
// caps the first step too.
func TestBackoff(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, i2cdev.Backoff(time.Second, 4*time.Second, n))
	}
	if want := "[1s 2s 4s 4s 4s 4s]"; fmt.Sprint(got) != want {
		t.Errorf("Backoff(1s, 4s, 1…6) = %v, want %s", got, want)
	}
	if got := i2cdev.Backoff(time.Second, time.Minute, 1000); got != time.Minute {
		t.Errorf("Backoff after 1000 failures = %v, want the cap", got)
	}
	if got := i2cdev.Backoff(3*time.Second, 5*time.Second, 2); got != 5*time.Second {
		t.Errorf("Backoff(3s, 5s, 2) = %v, want 5s", got)
	}
}

// A Poller counts failures in a row and spaces retries by Backoff; a
// success reports whether it ended a run of failures and starts the
// schedule over. It logs the first failure of a run and the recovery, not
// every failure.
func TestPoller(t *testing.T) {
	var logs strings.Builder
	l := loop.New(loop.WithClock(loop.NewVirtualClock()), loop.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))))
	p := i2cdev.Poller{Name: "chip 0x40 on bus", First: time.Second, Max: 4 * time.Second}
	var got []string
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		nack := errors.New("NACK")
		for range 3 {
			f := p.Fail(tk, nack)
			got = append(got, fmt.Sprintf("%d:%v:%v", f.Failures, f.RetryIn, f.Err))
		}
		got = append(got, fmt.Sprint(p.Succeed(tk)), fmt.Sprint(p.Succeed(tk)))
		f := p.Fail(tk, nack)
		got = append(got, fmt.Sprintf("%d:%v", f.Failures, f.RetryIn))
		return nil
	})
	if want := "[1:1s:NACK 2:2s:NACK 3:4s:NACK true false 1:1s]"; err != nil || fmt.Sprint(got) != want {
		t.Errorf("got %v, %v; want %s", got, err, want)
	}
	want := `level=WARN msg="i2c: reading failed; retrying with back-off" device="chip 0x40 on bus" err=NACK retry_in=1s
level=INFO msg="i2c: reading again" device="chip 0x40 on bus" after_failures=3
level=WARN msg="i2c: reading failed; retrying with back-off" device="chip 0x40 on bus" err=NACK retry_in=1s
`
	if logs.String() != want {
		t.Errorf("logs:\n%swant:\n%s", logs.String(), want)
	}
}

// Fail wraps a device failure as a *drivers.DeviceError naming device and
// step; an interruption passes unchanged.
func TestFail(t *testing.T) {
	nack := errors.New("NACK")
	err := i2cdev.Fail("chip 0x40 on bus", "read", nack)
	var de *drivers.DeviceError
	if !errors.As(err, &de) || !errors.Is(err, nack) || err.Error() != "chip 0x40 on bus: read: NACK" {
		t.Errorf("Fail = %v", err)
	}
	if err := i2cdev.Fail("chip", "read", loop.ErrCancelled); err != loop.ErrCancelled {
		t.Errorf("Fail(ErrCancelled) = %v", err)
	}
}

// A bus that panics gives a *loop.PanicError naming the task, inline as
// offloaded; a transfer returns a buffer of the size asked for, or nil.
func TestTx(t *testing.T) {
	for _, offload := range []bool{false, true} {
		pb := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x40, W: []byte{0xE7}, R: []byte{0x02}},
			{Addr: 0x40, W: []byte{0xFE}},
		}}
		d := i2cdev.New(&i2c.Dev{Bus: pb, Addr: 0x40}, offload)
		panicking := i2cdev.New(&i2c.Dev{Bus: &i2ctest.Playback{}, Addr: 0x40}, offload)
		var r1, r2 []byte
		var err1, err2, err3 error
		run(t, func(tk *loop.Task) error {
			r1, err1 = d.Tx(tk, []byte{0xE7}, 1)
			r2, err2 = d.Tx(tk, []byte{0xFE}, 0)
			_, err3 = panicking.Tx(tk, []byte{0xFE}, 0)
			return nil
		})
		if err := pb.Close(); err != nil {
			t.Fatal(err)
		}
		if err1 != nil || len(r1) != 1 || r1[0] != 0x02 || err2 != nil || r2 != nil {
			t.Errorf("offload %v: Tx = %x, %v; %x, %v", offload, r1, err1, r2, err2)
		}
		var pe *loop.PanicError
		if !errors.As(err3, &pe) || pe.Task != "main" || len(pe.Stack) == 0 {
			t.Errorf("offload %v: Tx on a panicking bus: %v", offload, err3)
		}
	}
}

// A new Dev needs initialising; once initialised, an operation that fails
// makes it need it again, one interrupted (cancelled or timed out) does
// not, and one that succeeds leaves it initialised.
func TestLockedReinitRule(t *testing.T) {
	d := i2cdev.New(nil, false)
	var got []bool
	fail := errors.New("NACK")
	run(t, func(tk *loop.Task) error {
		got = append(got, d.NeedsInit())
		d.Initialised()
		got = append(got, d.NeedsInit())
		if err := d.Locked(tk, func(*loop.Task) error { return nil }); err != nil {
			return err
		}
		got = append(got, d.NeedsInit())
		err := loop.WaitFor(tk, time.Millisecond, func(tk *loop.Task) error {
			return d.Locked(tk, func(tk *loop.Task) error { return tk.Sleep(time.Second) })
		})
		if !errors.Is(err, loop.ErrTimeout) {
			return fmt.Errorf("interrupted operation: %v", err)
		}
		got = append(got, d.NeedsInit())
		if err := d.Locked(tk, func(*loop.Task) error { return fail }); !errors.Is(err, fail) {
			return fmt.Errorf("failed operation: %v", err)
		}
		got = append(got, d.NeedsInit())
		return nil
	})
	if want := "[true false false false true]"; fmt.Sprint(got) != want {
		t.Errorf("NeedsInit: new, initialised, after success, interruption, failure = %v, want %s", got, want)
	}
}

// Operations under Locked do not interleave: a second waits for the first
// to end, even across its awaits.
func TestLockedSerialises(t *testing.T) {
	d := i2cdev.New(nil, false)
	var log []string
	run(t, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		for _, name := range []string{"a", "b"} {
			g.Go(name, func(tk *loop.Task) error {
				return d.Locked(tk, func(tk *loop.Task) error {
					log = append(log, name+" in")
					if err := tk.Sleep(time.Second); err != nil {
						return err
					}
					log = append(log, name+" out")
					return nil
				})
			})
		}
		return g.Wait(tk)
	})
	if want := "[a in a out b in b out]"; fmt.Sprint(log) != want {
		t.Errorf("log %v, want %s", log, want)
	}
}

// heldConn holds its first transaction until released, and logs the
// order in which transactions start and end.
type heldConn struct {
	entered, release chan struct{}
	mu               sync.Mutex
	log              []string
	n                int
}

func (c *heldConn) String() string      { return "held" }
func (c *heldConn) Duplex() conn.Duplex { return conn.Half }
func (c *heldConn) Tx(w, r []byte) error {
	c.mu.Lock()
	c.n++
	n := c.n
	c.log = append(c.log, fmt.Sprintf("start %x", w))
	c.mu.Unlock()
	if n == 1 {
		close(c.entered)
		<-c.release
	}
	c.mu.Lock()
	c.log = append(c.log, fmt.Sprintf("end %x", w))
	c.mu.Unlock()
	return nil
}

// An operation interrupted during an offloaded transfer returns at once;
// the next one waits, under the lock, until that transfer has ended, then
// needs initialising, and AfterAbandoned has been told when it ended.
func TestAbandonedTransferWaitedFor(t *testing.T) {
	c := &heldConn{entered: make(chan struct{}), release: make(chan struct{})}
	d := i2cdev.New(c, true)
	var ended []time.Time
	d.AfterAbandoned = func(at time.Time) { ended = append(ended, at) }
	var firstErr error
	var needsInit bool
	run(t, func(tk *loop.Task) error {
		d.Initialised()
		first := tk.Loop().Go("first", func(tk *loop.Task) error {
			return d.Locked(tk, func(tk *loop.Task) error {
				_, err := d.Tx(tk, []byte{1}, 0)
				return err
			})
		})
		if _, err := loop.Offload(tk, func(context.Context) (struct{}, error) {
			<-c.entered
			return struct{}{}, nil
		}); err != nil {
			return err
		}
		first.Cancel()
		firstErr = first.Wait(tk)
		tk.Loop().Go("release", func(tk *loop.Task) error {
			close(c.release)
			return nil
		})
		return d.Locked(tk, func(tk *loop.Task) error {
			needsInit = d.NeedsInit()
			_, err := d.Tx(tk, []byte{2}, 0)
			return err
		})
	})
	if !errors.Is(firstErr, loop.ErrCancelled) {
		t.Errorf("first operation: %v, want ErrCancelled", firstErr)
	}
	if want := "[start 01 end 01 start 02 end 02]"; fmt.Sprint(c.log) != want {
		t.Errorf("bus log %v, want %s", c.log, want)
	}
	if !needsInit || len(ended) != 1 {
		t.Errorf("after the abandoned transfer: NeedsInit %v, AfterAbandoned called %d times; want true, once", needsInit, len(ended))
	}
}

// Inline transfers each take a turn of their own: ten of them in a row on
// a slow bus (3.8 ms each, charged to the virtual clock) hold the loop one
// at a time, and no run of the task reaches the hog threshold — where the
// same ten on the bus directly, in one turn, are a 38 ms hog.
func TestInlineTransfersYield(t *testing.T) {
	for _, direct := range []bool{false, true} {
		vc := loop.NewVirtualClock()
		l := loop.New(loop.WithClock(vc), loop.WithHogThreshold(20*time.Millisecond), loop.WithLogger(slog.New(slog.DiscardHandler)))
		var mu sync.Mutex
		nack := errors.New("NACK")
		chip := i2csim.NewChip(&mu, 0x40, nil, nack, i2csim.NewRecorder(nack), func(time.Time, []byte, []byte) error { return nil }, func() {})
		chip.ChargeBusTime(l, vc)
		if err := chip.SetSpeed(10 * physic.KiloHertz); err != nil {
			t.Fatal(err)
		}
		d := i2cdev.New(&i2c.Dev{Bus: namedChip{chip}, Addr: 0x40}, false)
		var stats loop.Stats
		err := l.Run(context.Background(), func(tk *loop.Task) error {
			g := loop.NewGroup(tk)
			g.Go("chain", func(tk *loop.Task) error {
				for range 10 {
					var err error
					if direct {
						err = chip.Tx(0x40, nil, make([]byte, 3))
					} else {
						_, err = d.Tx(tk, nil, 3)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			err := g.Wait(tk)
			stats = tk.Loop().Stats()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if hogged := stats.Hogs > 0; hogged != direct || vc.Elapsed() != 38*time.Millisecond {
			t.Errorf("direct %v: %d hogs (longest %v), %v elapsed; want hogs only directly, 38ms", direct, stats.Hogs, stats.MaxHog, vc.Elapsed())
		}
	}
}

// namedChip is a bare simulated chip as an i2c.Bus.
type namedChip struct{ *i2csim.Chip }

func (namedChip) String() string { return "sim" }

// Poller.Run polls at once and then a period after each start; a failed
// poll is handed over as an error state and the next waits the back-off
// from the failure; it ends with the task's interruption only.
func TestPollerRun(t *testing.T) {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc), loop.WithLogger(slog.New(slog.DiscardHandler)))
	p := i2cdev.Poller{Name: "chip", First: time.Second, Max: time.Minute}
	var got []string
	var runErr error
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		n := 0
		task := tk.Loop().Go("poller", func(tk *loop.Task) error {
			return p.Run(tk, time.Second, func(tk *loop.Task) error {
				n++
				got = append(got, fmt.Sprintf("poll@%v", vc.Elapsed()))
				if err := tk.Sleep(30 * time.Millisecond); err != nil {
					return err
				}
				if n == 2 || n == 3 {
					return errors.New("NACK")
				}
				return nil
			}, func(at time.Time, f drivers.Fault) {
				got = append(got, fmt.Sprintf("fault@%v:%d:%v", vc.Since(at), f.Failures, f.RetryIn))
			})
		})
		if err := tk.Sleep(5500 * time.Millisecond); err != nil {
			return err
		}
		task.Cancel()
		runErr = task.Wait(tk)
		return nil
	})
	want := "[poll@0s poll@1s fault@1.03s:1:1s poll@2.03s fault@2.06s:2:2s poll@4.06s poll@5.06s]"
	if err != nil || fmt.Sprint(got) != want || !errors.Is(runErr, loop.ErrCancelled) {
		t.Errorf("got %v, %v, %v\nwant %s, ErrCancelled", got, err, runErr, want)
	}
}
