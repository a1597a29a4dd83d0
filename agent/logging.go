package agent

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/edgeagent/edgeagent/agent/config"
)

// LogHandler is the agent's slog.Handler: it writes as the configuration's
// log section says (level, text or JSON), and a reload changes both for
// every logger derived from it — the bridge's, each device's — without
// rebuilding them. It is safe for concurrent use.
type LogHandler struct {
	root  *logRoot
	steps []slog.Attr // With and WithGroup, in order (opMarker)
	cache atomic.Pointer[builtHandler]
}

// logRoot is what all handlers derived from one NewLogHandler share.
type logRoot struct {
	w       io.Writer
	journal bool // w is the journal's stream, which stamps each line itself
	level   slog.LevelVar
	mu      sync.Mutex // serialises set
	base    atomic.Pointer[builtHandler]
	gen     atomic.Uint64
}

// logOp is one derivation step: WithAttrs or WithGroup.
type logOp struct {
	attrs []slog.Attr
	group string
}

// builtHandler is a concrete handler for one generation of the root.
type builtHandler struct {
	gen uint64
	h   slog.Handler
}

// NewLogHandler returns a handler writing to w as c says. When w is the
// systemd journal's stream (see toJournal), the text format leaves out the
// time: the journal records it for every line already.
func NewLogHandler(w io.Writer, c config.Log) *LogHandler {
	r := &logRoot{w: w, journal: toJournal(w)}
	r.set(c)
	return &LogHandler{root: r}
}

// Set changes the level and the format of h and of every handler derived
// from it.
func (h *LogHandler) Set(c config.Log) { h.root.set(c) }

func (r *logRoot) set(c config.Log) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.level.Set(c.Level)
	var base slog.Handler
	if c.Format == config.LogJSON {
		// JSON is for machines, which want the time in the record.
		base = slog.NewJSONHandler(r.w, &slog.HandlerOptions{Level: &r.level})
	} else {
		ho := &slog.HandlerOptions{Level: &r.level}
		if r.journal {
			ho.ReplaceAttr = dropTime
		}
		base = slog.NewTextHandler(r.w, ho)
	}
	g := r.gen.Add(1)
	r.base.Store(&builtHandler{gen: g, h: base})
}

// dropTime, a ReplaceAttr, leaves out the record's time. A caller's own
// top-level attribute named "time" would go too; the agent logs none.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// Enabled reports whether the level is written now.
func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.root.level.Level() }

// Handle writes r through the handler of the current format.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.current().Handle(ctx, r)
}

// WithAttrs returns a handler that adds as to every record.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.derive(logOp{attrs: as})
}

// WithGroup returns a handler that puts later attributes under name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.derive(logOp{group: name})
}

func (h *LogHandler) derive(op logOp) *LogHandler {
	d := &LogHandler{root: h.root}
	d.steps = append(append([]slog.Attr(nil), h.steps...), opMarker(op))
	return d
}

// opMarker encodes a derivation step in the attrs chain: a group step as
// an attribute with the reserved key below, an attrs step as a group of
// them.
func opMarker(op logOp) slog.Attr {
	if op.group != "" {
		return slog.String(groupStep, op.group)
	}
	return slog.Attr{Key: attrsStep, Value: slog.GroupValue(op.attrs...)}
}

// Keys no caller uses (they are never written): how derivation steps are
// kept.
const (
	groupStep = "\x00group"
	attrsStep = "\x00attrs"
)

// current is the concrete handler for the root's current format with the
// derivation steps applied, rebuilt once after each Set.
func (h *LogHandler) current() slog.Handler {
	base := h.root.base.Load()
	if c := h.cache.Load(); c != nil && c.gen == base.gen {
		return c.h
	}
	out := base.h
	for _, a := range h.steps {
		switch a.Key {
		case groupStep:
			out = out.WithGroup(a.Value.String())
		case attrsStep:
			out = out.WithAttrs(a.Value.Group())
		}
	}
	h.cache.Store(&builtHandler{gen: base.gen, h: out})
	return out
}
