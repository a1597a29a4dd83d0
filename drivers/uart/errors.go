package uart

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/internal/errs"
)

// Errors of a Stream, matched with errors.Is.
var (
	// ErrClosed: the stream's Run has ended and nothing is left to read.
	// It also matches primitives.ErrClosed, the closed sentinel callers
	// test whatever closed.
	ErrClosed = errs.Closed("uart: stream closed")
	// ErrRunning: Run was called while the stream's Run is running.
	ErrRunning = errors.New("uart: Run is already running")
	// ErrNotConnected: a Write or Drain while the port is not open, or a
	// connection that ended before the bytes were written.
	ErrNotConnected = errors.New("uart: not connected")
	// ErrVanished: the device went away (USB adapter unplugged, pty master
	// closed): the port reported itself closed although we had not closed it.
	ErrVanished = errors.New("uart: device vanished (hung up or unplugged)")
	// ErrOverflow: received bytes found the receive buffer full and were
	// dropped; the record they belonged to is discarded.
	ErrOverflow = errors.New("uart: receive buffer overflow")
	// ErrLineTooLong: a line exceeded the max line length and was discarded.
	ErrLineTooLong = errors.New("uart: line too long")
	// ErrCut: a connection ended in the middle of a record, which is
	// discarded; the bytes after the reconnect start afresh.
	ErrCut = errors.New("uart: record cut off by a disconnect")
)

// A LossError reports received bytes a read could not deliver, and why
// (Err is ErrOverflow, ErrLineTooLong or ErrCut). The stream goes on: the
// next read returns what follows.
type LossError struct {
	Path      string
	Op        string // "ReadLine", "ReadExactly" or "Read"
	Err       error
	Dropped   uint64 // bytes the receive buffer had no room for
	Discarded int    // received bytes of the broken record thrown away
	Cause     error  // for ErrCut, why the connection ended
}

func (e *LossError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "uart %s: %s: %v", e.Path, e.Op, e.Err)
	if e.Dropped > 0 {
		fmt.Fprintf(&b, ": %d bytes dropped", e.Dropped)
	}
	if e.Discarded > 0 {
		fmt.Fprintf(&b, ", %d received bytes of the record discarded", e.Discarded)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, " (%v)", e.Cause)
	}
	return b.String()
}

// Unwrap returns Err and, if any, Cause.
func (e *LossError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Status is the connection's phase.
type Status uint8

// Statuses, in the order a stream goes through them.
const (
	// Connecting: Run has started and the first attempt to open is under
	// way, or Run has not started yet.
	Connecting Status = iota
	// Connected: the port is open; reads and writes flow.
	Connected
	// Disconnected: the last attempt failed or the connection ended; Run
	// waits for the back-off (State.Retry) and opens again.
	Disconnected
	// Closed: Run has ended (it may run again).
	Closed
)

var statusNames = [...]string{Connecting: "connecting", Connected: "connected", Disconnected: "disconnected", Closed: "closed"}

// String returns the status's wire word: "connecting", "connected",
// "disconnected" or "closed".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// MarshalText returns the status's wire word; an unknown status is an
// error.
func (s Status) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("uart: no wire name for %v", s)
	}
	return []byte(statusNames[s]), nil
}

// State is what a stream publishes about its connection. Its JSON is
// {"status":"connected","since":…}, with "error", "attempt" and "retry"
// added while disconnected.
type State struct {
	Status  Status
	Since   time.Time // when Status began, on the loop's clock
	Err     error     // Disconnected: why the last attempt failed or the connection ended
	Attempt int       // Disconnected: failures in a row
	Retry   time.Time // Disconnected: when the next attempt starts
}

// MarshalJSON gives the wire form described on State.
func (s State) MarshalJSON() ([]byte, error) {
	w := struct {
		Status  Status     `json:"status"`
		Since   time.Time  `json:"since"`
		Error   string     `json:"error,omitempty"`
		Attempt int        `json:"attempt,omitempty"`
		Retry   *time.Time `json:"retry,omitempty"`
	}{Status: s.Status, Since: s.Since, Attempt: s.Attempt}
	if s.Err != nil {
		w.Error = s.Err.Error()
	}
	if !s.Retry.IsZero() {
		w.Retry = &s.Retry
	}
	return json.Marshal(w)
}

func (s State) String() string {
	if s.Status != Disconnected {
		return s.Status.String()
	}
	return fmt.Sprintf("disconnected (failure %d, retry at %s): %v", s.Attempt, s.Retry.Format("15:04:05.000"), s.Err)
}

// Stats counts a stream's traffic. Received bytes always add up:
// Received = Delivered + Dropped + Discarded + Buffered.
type Stats struct {
	Received  uint64 // bytes read from the port
	Delivered uint64 // bytes handed to readers, line endings included
	Dropped   uint64 // bytes lost to receive-buffer overflow
	Discarded uint64 // received bytes of broken records thrown away
	Buffered  int    // bytes received and not yet read
	Overflows uint64 // times bytes were dropped

	Accepted  uint64 // bytes Write accepted
	Written   uint64 // bytes the port took
	TxDropped uint64 // accepted bytes never written: the connection ended first
	Queued    int    // bytes accepted and not yet written

	Connects     uint64 // successful opens
	Disconnects  uint64 // connections that ended without Run stopping them
	OpenFailures uint64 // failed opens
}
