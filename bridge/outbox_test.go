package bridge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// Messages published before the first connect wait in the outbox, bounded:
// the oldest are dropped (and counted) past the bound, and the rest arrive
// in order once a broker accepts the bridge. QoS 0 is not stored.
func TestOutboxOrderAndBound(t *testing.T) {
	br := startBroker(t, brokerOpts{Deny: "n1"})
	ext := newTestClient(t, br.URL(), "ext")
	data := ext.Sub(t, "edgeagent/n1/data", 1)
	opts := append(fastOpts(t, "n1", br.URL()), WithOutboxLimits(5, 1<<20))
	scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		for i := range 8 {
			if err := b.Publish(tk, "edgeagent/n1/data", []byte(strconv.Itoa(i)), Pub{QoS: 1}); err != nil {
				return err
			}
		}
		if err := b.Publish(tk, "edgeagent/n1/data", []byte("qos0"), Pub{QoS: 0}); err != nil {
			return err
		}
		s := b.Stats()
		if s.Connected || s.Outbox.Pending != 5 || s.Outbox.Dropped != 3 || s.DroppedQoS0 != 1 {
			return fmt.Errorf("before connecting: connected=%v pending=%d dropped=%d qos0 dropped=%d, want false 5 3 1",
				s.Connected, s.Outbox.Pending, s.Outbox.Dropped, s.DroppedQoS0)
		}
		br.Allow()
		for i := 3; i < 8; i++ {
			if err := expect(tk, data, strconv.Itoa(i)); err != nil {
				return err
			}
		}
		// One more after the backlog: it comes next, not before.
		if err := b.Publish(tk, "edgeagent/n1/data", []byte("8"), Pub{QoS: 1}); err != nil {
			return err
		}
		if err := expect(tk, data, "8"); err != nil {
			return err
		}
		return waitStats(tk, b, func(s Stats) bool { return s.Outbox.Pending == 0 && s.Delivered == 6 })
	})
}

// With RejectNew a full outbox refuses the new message and keeps the old.
func TestOutboxRejectNew(t *testing.T) {
	opts := append(fastOpts(t, "n1", "tcp://127.0.0.1:1"), WithOutboxLimits(2, 1<<20), WithOutboxOverflow(outbox.RejectNew))
	scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		for i := range 3 {
			err := b.Publish(tk, "edgeagent/n1/data", []byte{byte(i)}, Pub{QoS: 1})
			if i < 2 && err != nil || i == 2 && !errors.Is(err, outbox.ErrFull) {
				return fmt.Errorf("publish %d: %v", i, err)
			}
		}
		if s := b.Stats(); s.Outbox.Rejected != 1 || s.Outbox.Pending != 2 || s.PublishErrors != 1 {
			return fmt.Errorf("stats: %+v", s.Outbox)
		}
		return nil
	})
}

// childEnv switches the test binary into the child of
// TestKillRestartReplaysOutbox: it publishes forever, never connected,
// printing the number of each message Publish has accepted.
const childEnv = "EDGEAGENT_BRIDGE_KILL_CHILD"

func runKillChild(dir string) {
	quiet := slog.New(slog.DiscardHandler)
	l := loop.New(loop.WithLogger(quiet))
	b, err := New(l, WithBrokers("tcp://127.0.0.1:1"), WithNode("child"), WithStateDir(dir),
		WithBackoff(time.Second, time.Second), WithLogger(quiet))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	_ = l.Run(context.Background(), func(tk *loop.Task) error {
		tk.Loop().Go("bridge", b.Run)
		for i := 0; ; i++ {
			if err := b.Publish(tk, "edgeagent/child/data", []byte(strconv.Itoa(i)), Pub{QoS: 1}); err != nil {
				return err
			}
			// Report it off the loop: a write to a pipe may block.
			if err := offload(tk, func() {
				fmt.Fprintf(out, "queued %d\n", i)
				_ = out.Flush()
			}); err != nil {
				return err
			}
		}
	})
	os.Exit(1)
}

// A process killed with SIGKILL while publishing loses none of the
// messages Publish accepted: the next bridge on the same state directory
// sends them all, in order, without gaps.
func TestKillRestartReplaysOutbox(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		runKillChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillRestartReplaysOutbox$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	last := -1
	killed := false
	for sc.Scan() {
		line := sc.Text()
		n, err := strconv.Atoi(strings.TrimPrefix(line, "queued "))
		if err != nil {
			t.Fatalf("child said %q", line)
		}
		if n != last+1 {
			t.Fatalf("child reported %d after %d", n, last)
		}
		last = n
		if n == 300 && !killed {
			// Mid-stream: the child is appending as fast as it can.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
	t.Logf("child killed after reporting message %d", last)

	br := startBroker(t, brokerOpts{Deny: "child"})
	ext := newTestClient(t, br.URL(), "ext")
	data := ext.Sub(t, "edgeagent/child/data", 1)
	opts := fastOpts(t, "child", br.URL())
	opts = append(opts, WithStateDir(dir))
	scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		rec := b.Stats().Outbox.Recovered
		if rec < last+1 || rec > last+2 {
			return fmt.Errorf("recovered %d messages, want %d (or one more, appended unreported)", rec, last+1)
		}
		br.Allow()
		for i := range rec {
			if err := expect(tk, data, strconv.Itoa(i)); err != nil {
				return fmt.Errorf("message %d of %d: %w", i, rec, err)
			}
		}
		return waitStats(tk, b, func(s Stats) bool { return s.Outbox.Pending == 0 })
	})
}
