package bridge

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/bridge/outbox"
	"github.com/edgeagent/edgeagent/loop"
)

// Stopping by the loop's context — what signal.NotifyContext does on
// SIGTERM — and by cancelling the bridge's task end the same way:
// "offline" retained, the outbox closed (another bridge can open it), a
// DISCONNECT at the end (the broker publishes no will), within the
// shutdown bound. Every QoS 1 message Publish accepted just before the stop
// is delivered or still in the outbox.
func TestShutdownByContextAndByTask(t *testing.T) {
	for _, how := range []string{"context", "task"} {
		t.Run(how, func(t *testing.T) {
			br := startBroker(t, brokerOpts{})
			ext := newTestClient(t, br.URL(), "ext")
			data := ext.Sub(t, "edgeagent/n1/data", 1)
			avail := ext.Sub(t, "edgeagent/n1/availability", 1)
			dir := t.TempDir()
			log, lb := testLogger(t)
			l := loop.New(loop.WithLogger(log))
			opts := append(fastOpts(t, "n1", br.URL()), WithStateDir(dir), WithLogger(log))
			b, err := New(l, opts...)
			if err != nil {
				t.Fatal(err)
			}
			const n = 300
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err = l.Run(ctx, func(tk *loop.Task) error {
				g := loop.NewGroup(tk)
				bt := g.Go("bridge", b.Run)
				g.Go("app", func(tk *loop.Task) error {
					if err := b.WaitConnected(tk); err != nil {
						return err
					}
					for i := range n {
						if err := b.Publish(tk, "edgeagent/n1/data", []byte(strconv.Itoa(i)), Pub{QoS: 1}); err != nil {
							return err
						}
					}
					// Stop at once: most of them are still in the outbox or
					// in flight.
					if how == "context" {
						cancel()
					} else {
						bt.Cancel()
					}
					return nil
				})
				return g.Wait(tk)
			})
			if err != nil && !errors.Is(err, loop.ErrCancelled) {
				t.Fatalf("Run: %v", err)
			}
			if p, ok := br.Retained("edgeagent/n1/availability"); !ok || string(p) != "offline" {
				t.Fatalf("retained availability %q %v, want offline", p, ok)
			}
			if w := br.WillsSent(); w != 0 {
				t.Errorf("the broker published %d wills: the bridge did not end with a DISCONNECT", w)
			}
			if logs := lb.String(); containsAny(logs, "shutdown took longer", "not published; dropping") {
				t.Errorf("shutdown did not complete within its bound:\n%s", logs)
			}
			// "offline" came after "online", as the last word.
			var seen []string
			for len(seen) == 0 || seen[len(seen)-1] != "offline" {
				select {
				case m := <-avail:
					seen = append(seen, string(m.Payload()))
				case <-time.After(testTimeout):
					t.Fatalf("availability seen: %q", seen)
				}
			}
			// The outbox is closed and holds what was not delivered.
			ob, err := outbox.Open(dir)
			if err != nil {
				t.Fatalf("reopening the outbox: %v", err)
			}
			defer ob.Close()
			pending := map[string]bool{}
			for {
				ms, err := ob.Next(100)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 {
					break
				}
				for _, m := range ms {
					pending[string(m.Payload)] = true
				}
			}
			got := map[string]bool{}
			for i := range n {
				p := strconv.Itoa(i)
				for !got[p] && !pending[p] {
					select {
					case m := <-data:
						got[string(m.Payload())] = true
					case <-time.After(testTimeout):
						t.Fatalf("message %s neither delivered nor in the outbox (%d delivered, %d pending)", p, len(got), len(pending))
					}
				}
			}
			t.Logf("stopped by %s: %d of %d delivered before the stop, %d left in the outbox", how, len(got), n, len(pending))
		})
	}
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

// A broker that stops answering cannot hold the stop up: past
// WithShutdownTimeout the bridge drops the link without a DISCONNECT, so
// the broker publishes the will — "offline", retained — and the outbox is
// closed all the same.
func TestShutdownBoundedWhenTheBrokerIsSilent(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	dir := t.TempDir()
	opts := append(fastOpts(t, "n1", br.URL()), WithStateDir(dir), WithShutdownTimeout(300*time.Millisecond))
	_, lb := scenario(t, opts, nil, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		// The broker will not acknowledge "offline".
		br.Swallow("edgeagent/n1/availability", true)
		return nil
	})
	mustContain(t, lb.String(), "shutdown took longer than its bound; link dropped")
	if err := br.WaitWills(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if p, ok := br.Retained("edgeagent/n1/availability"); !ok || string(p) != "offline" {
		t.Fatalf("retained availability %q %v, want offline (the will)", p, ok)
	}
	ob, err := outbox.Open(dir)
	if err != nil {
		t.Fatalf("outbox not closed: %v", err)
	}
	_ = ob.Close()
}
