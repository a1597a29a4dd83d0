// Package sdnotify tells systemd how the agent is doing, over the sd_notify
// protocol (github.com/coreos/go-systemd/v22/daemon): READY=1 once it has
// started, STATUS= lines, RELOADING=1 around a reload, STOPPING=1 on the way
// out, and the watchdog's WATCHDOG=1 pings.
//
// The pings come from a task on the agent's loop (Notifier.Watchdog), not
// from a timer goroutine: a ping then proves that the loop still switches
// tasks, so a loop hung by a task that never awaits stops the pings and
// systemd restarts the service.
//
// Outside systemd (NOTIFY_SOCKET unset) every method does nothing. The
// watchdog task ends at once when there is no watchdog to feed: no
// NOTIFY_SOCKET, no WATCHDOG_USEC, or a WATCHDOG_PID naming another process.
// A notification that cannot be sent is logged and counted, never fatal:
// the agent's work does not depend on systemd hearing about it.
package sdnotify

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/edgeagent/edgeagent/loop"
)

// A Notifier sends notifications to the service manager named by the
// environment it was created in. Its methods are safe from any goroutine.
// The zero value is a Notifier outside systemd: it sends nothing.
//
// Ready, Status, Stopping and Reloading send one datagram on the calling
// goroutine; the socket takes it at once unless the service manager has
// stopped reading, and then the call waits. A loop task therefore calls
// them through OffLoop.
type Notifier struct {
	log      *slog.Logger
	socket   string        // NOTIFY_SOCKET; "" outside systemd
	watchdog time.Duration // WATCHDOG_USEC when it is meant for this process

	sent    atomic.Uint64
	failed  atomic.Uint64
	failing atomic.Bool // the last send failed: later failures are logged quietly

	// OrderedStatus's lines: how many were made, and the newest sent.
	statusMade atomic.Uint64
	statusMu   sync.Mutex
	statusSent uint64
}

// An Option configures a Notifier.
type Option func(*Notifier)

// WithLogger sets where failed sends are logged; the default is
// slog.Default().
func WithLogger(log *slog.Logger) Option {
	return func(n *Notifier) { n.log = log }
}

// New returns a Notifier for the service manager described by the
// environment: NOTIFY_SOCKET, and WATCHDOG_USEC with WATCHDOG_PID (the
// watchdog is on only when WATCHDOG_PID is unset or names this process, as
// sd_watchdog_enabled does). It reads the environment once and leaves it
// as it is. A malformed WATCHDOG_USEC is logged and leaves the watchdog off.
func New(opts ...Option) *Notifier {
	n := &Notifier{}
	for _, o := range opts {
		o(n)
	}
	n.socket = os.Getenv("NOTIFY_SOCKET")
	if n.socket == "" {
		return n
	}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.logger().Warn("systemd watchdog: ignoring the environment", "WATCHDOG_USEC", os.Getenv("WATCHDOG_USEC"), "err", err)
		return n
	}
	n.watchdog = d
	return n
}

func (n *Notifier) logger() *slog.Logger {
	if n.log == nil {
		return slog.Default()
	}
	return n.log
}

// Enabled reports whether the process runs under a service manager that
// listens for notifications (NOTIFY_SOCKET was set).
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogTimeout returns the service's watchdog timeout (WATCHDOG_USEC),
// or 0 when there is no watchdog for this process to feed.
func (n *Notifier) WatchdogTimeout() time.Duration { return n.watchdog }

// Ready tells the service manager that start-up, or a reload, is complete
// (READY=1).
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Status sets the one-line status that systemctl status shows (STATUS=…).
// Line breaks in text become spaces: the protocol separates fields by lines.
func (n *Notifier) Status(text string) {
	n.send("STATUS=" + strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, text))
}

// OrderedStatus returns a function that sends STATUS=text, for callers
// that send each line from a goroutine of its own (through OffLoop), where
// the sends may overtake one another. The lines keep the order of the
// OrderedStatus calls: a function whose line was overtaken by a newer one
// sends nothing, so the line systemctl status shows is always the newest.
func (n *Notifier) OrderedStatus(text string) func() {
	seq := n.statusMade.Add(1)
	return func() {
		n.statusMu.Lock()
		defer n.statusMu.Unlock()
		if seq < n.statusSent {
			return
		}
		n.statusSent = seq
		n.Status(text)
	}
}

func (n *Notifier) ping() { n.send(daemon.SdNotifyWatchdog) }

// Stopping tells the service manager that the service is shutting down
// (STOPPING=1).
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Reloading tells the service manager that the service is reloading its
// configuration: RELOADING=1 together with MONOTONIC_USEC, the current
// CLOCK_MONOTONIC time in microseconds, in one message, as systemd 253 and
// later require for Type=notify-reload (without it systemd does not match
// the notification to the reload it asked for). Send Ready when the reload
// is done, whether or not it succeeded.
func (n *Notifier) Reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Watchdog is the watchdog task: run it on the agent's loop (l.Go or a
// group's Go). It sends WATCHDOG=1 at once and then every half of the
// watchdog timeout, measured on the loop's clock, until the task is
// cancelled, and returns the cancellation. When there is no watchdog for
// this process it returns nil at once.
//
// Each ping is sent through OffLoop, so a service manager that stops
// reading its socket cannot block the loop; the next ping is not started
// before the previous one has been handed over.
func (n *Notifier) Watchdog(t *loop.Task) error {
	if n.socket == "" || n.watchdog <= 0 {
		return nil
	}
	every := n.watchdog / 2
	n.logger().Debug("systemd watchdog: pinging from the loop", "every", every)
	for {
		if err := OffLoop(t, n.ping); err != nil {
			return err
		}
		if err := t.Sleep(every); err != nil {
			return err
		}
	}
}

// OffLoop runs notify — a Notifier method, such as n.Ready, or a function
// calling some — through loop.Offload, so that a service manager that has
// stopped reading cannot block the loop. It returns the await's error
// (loop.ErrCancelled, loop.ErrTimeout), never a send error: those are
// logged and counted by the Notifier.
func OffLoop(t *loop.Task, notify func()) error {
	_, err := loop.Offload(t, func(context.Context) (struct{}, error) {
		notify()
		return struct{}{}, nil
	})
	return err
}

// Stats counts the notifications sent and those that failed.
type Stats struct {
	Sent   uint64 // datagrams the service manager's socket accepted
	Failed uint64 // notifications that could not be sent (each logged)
}

// Stats returns the counts so far.
func (n *Notifier) Stats() Stats {
	return Stats{Sent: n.sent.Load(), Failed: n.failed.Load()}
}

// send sends one notification. The first failure after a success is a
// warning; repeats are logged at debug level, so a socket that has gone
// away does not flood the log every watchdog interval, and the recovery is
// logged again.
func (n *Notifier) send(state string) {
	if n.socket == "" {
		return
	}
	ok, err := daemon.SdNotify(false, state)
	if err == nil && !ok {
		// NOTIFY_SOCKET was unset after New read it.
		return
	}
	field, _, _ := strings.Cut(state, "\n")
	if err != nil {
		n.failed.Add(1)
		level := slog.LevelWarn
		if n.failing.Swap(true) {
			level = slog.LevelDebug
		}
		n.logger().Log(context.Background(), level, "systemd notify: send failed", "socket", n.socket, "state", field, "err", err)
		return
	}
	n.sent.Add(1)
	if n.failing.Swap(false) {
		n.logger().Info("systemd notify: sending again", "socket", n.socket, "state", field)
	}
}
