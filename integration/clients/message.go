package clients

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Message is one message as a client received it.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool      // delivered as a retained message
	At       time.Time // when the client handed it over
}

// String shows the message for failure reports (payload cut at 80 bytes).
func (m Message) String() string {
	p := string(m.Payload)
	if len(p) > 80 {
		p = p[:80] + "…"
	}
	r := ""
	if m.Retained {
		r = " retained"
	}
	return fmt.Sprintf("%s q%d%s %q", m.Topic, m.QoS, r, p)
}

// Collector gathers messages from one source in arrival order and lets a
// test wait, with a deadline, until they satisfy a condition. It is safe
// for concurrent use: sources add from their own goroutines.
type Collector struct {
	mu      sync.Mutex
	msgs    []Message
	changed chan struct{} // closed and replaced at every change
	ended   bool
	endErr  error
}

// NewCollector returns an empty collector.
func NewCollector() *Collector { return &Collector{changed: make(chan struct{})} }

// Add appends m. Messages added after End are still kept.
func (c *Collector) Add(m Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.signal()
	c.mu.Unlock()
}

// End records that the source will add nothing more (a subscriber that
// exited), and why; waits then fail at once instead of at their deadline.
func (c *Collector) End(err error) {
	c.mu.Lock()
	if !c.ended {
		c.ended, c.endErr = true, err
		c.signal()
	}
	c.mu.Unlock()
}

func (c *Collector) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Messages returns a copy of what has arrived so far.
func (c *Collector) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Len is the number of messages so far.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// ErrTimeout is returned by Await when the deadline passes first.
var ErrTimeout = errors.New("deadline passed")

// Await waits until cond holds for the messages so far, and returns them.
// It returns ErrTimeout (wrapped) after timeout, or the source's end error
// when the source ended without cond holding. cond runs with the
// collector locked: it must not call the collector.
func (c *Collector) Await(timeout time.Duration, cond func([]Message) bool) ([]Message, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if cond(c.msgs) {
			msgs := append([]Message(nil), c.msgs...)
			c.mu.Unlock()
			return msgs, nil
		}
		ended, endErr, ch := c.ended, c.endErr, c.changed
		msgs := append([]Message(nil), c.msgs...)
		c.mu.Unlock()
		if ended {
			if endErr == nil {
				endErr = errors.New("the source ended")
			}
			return msgs, fmt.Errorf("after %d messages: %w", len(msgs), endErr)
		}
		select {
		case <-ch:
		case <-timer.C:
			return msgs, fmt.Errorf("after %d messages in %v: %w", len(msgs), timeout, ErrTimeout)
		}
	}
}

// TB is the part of testing.TB the waits use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// WaitCount waits until at least n messages arrived and returns the first
// n; it fails the test with what did arrive otherwise.
func (c *Collector) WaitCount(t TB, n int, timeout time.Duration) []Message {
	t.Helper()
	msgs, err := c.Await(timeout, func(m []Message) bool { return len(m) >= n })
	if err != nil {
		t.Fatalf("waiting for %d messages: %v%s", n, err, listing(msgs))
	}
	return msgs[:n]
}

// WaitFor waits for a message matching pred (what names it in the failure
// report) and returns the first such message.
func (c *Collector) WaitFor(t TB, what string, timeout time.Duration, pred func(Message) bool) Message {
	t.Helper()
	var found Message
	msgs, err := c.Await(timeout, func(ms []Message) bool {
		for _, m := range ms {
			if pred(m) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v%s", what, err, listing(msgs))
	}
	return found
}

// WaitPayload waits for a message on topic with exactly this payload.
func (c *Collector) WaitPayload(t TB, topic, payload string, timeout time.Duration) Message {
	t.Helper()
	return c.WaitFor(t, fmt.Sprintf("%q on %s", payload, topic), timeout, func(m Message) bool {
		return m.Topic == topic && string(m.Payload) == payload
	})
}

// listing renders the last messages for a failure report.
func listing(msgs []Message) string {
	if len(msgs) == 0 {
		return " (none arrived)"
	}
	var b strings.Builder
	from := max(0, len(msgs)-10)
	fmt.Fprintf(&b, "; the last %d of %d:", len(msgs)-from, len(msgs))
	for _, m := range msgs[from:] {
		b.WriteString("\n\t" + m.String())
	}
	return b.String()
}

// Match reports whether topic matches the MQTT topic filter (with + and #
// wildcards; topics beginning with $ match no leading wildcard).
func Match(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) || (f != "+" && f != ts[i]) {
			return false
		}
	}
	return len(fs) == len(ts)
}
