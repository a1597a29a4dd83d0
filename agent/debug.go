package agent

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/edgeagent/edgeagent/bridge/rpc"
	"github.com/edgeagent/edgeagent/loop"
)

// MethodDebugHang hangs the agent's loop on purpose, for tests of what
// supervises the agent (systemd's watchdog). It is refused unless the
// configuration sets debug: {allow_hang: true}.
const MethodDebugHang = "debug.hang"

// HangReply is the reply to debug.hang, sent before the loop hangs.
type HangReply struct {
	Hanging bool   `json:"hanging"`
	For     string `json:"for"` // "until killed" without a duration
}

// debugHang serves debug.hang: it starts a task that blocks the loop's
// goroutine without awaiting, for params {"for": duration} or for good.
// The watchdog task then gets no turn, WATCHDOG=1 stops, and systemd kills
// and restarts the service after WatchdogSec=. The switch is read on every
// call rather than at registration, so a reload turns it on or off at once.
func (a *Agent) debugHang(_ *loop.Task, req *rpc.Request) (any, error) {
	if !a.cfg.Debug.AllowHang {
		return nil, fmt.Errorf("%s is refused: it hangs the agent on purpose and is served only when %s sets debug: {allow_hang: true}", MethodDebugHang, a.cfg.File)
	}
	var p struct {
		For string `json:"for"`
	}
	if err := req.Decode(&p); err != nil {
		return nil, fmt.Errorf(`params: none, or {"for": "30s"}: %w`, err)
	}
	d, what := time.Duration(math.MaxInt64), "until killed"
	if p.For != "" {
		var err error
		if d, err = time.ParseDuration(p.For); err != nil || d <= 0 {
			if err == nil {
				err = errors.New("not positive")
			}
			return nil, fmt.Errorf(`params: "for": %q: a duration such as "30s": %w`, p.For, err)
		}
		what = d.String()
	}
	// A task of its own, so the reply goes out first: the handler's task
	// hands it to the connection before this one gets its turn.
	a.l.Go(MethodDebugHang, func(*loop.Task) error {
		a.log.Warn("debug.hang: the loop is blocked on purpose; the watchdog is no longer fed", "for", what)
		time.Sleep(d) //loopvet:ok blocking the loop is what this method is for
		a.log.Warn("debug.hang: the loop runs again", "after", what)
		return nil
	})
	return HangReply{Hanging: true, For: what}, nil
}
