// Package topic is the bridge's MQTT topic layout as a value, and the checks
// and matching every topic and filter goes through.
//
// A Layout names the topics of one node under a base (see Layout for the
// list). The package is pure: no network, no loop, no state; the bridge, its
// request/reply package and the agent all build topics through it, so a
// topic is spelled in one place.
package topic

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultBase is the first level of every topic unless the agent picks
// another base.
const DefaultBase = "edgeagent"

// ClientLevel is the level under <base> that holds the reply topics of
// clients that are not nodes (a command-line caller, a script): each owns
// <base>/_client/<client>/reply and what lies below. No node may take it as
// its id.
const ClientLevel = "_client"

// ReservedLevels lists the levels under <base>/<node>/ that the node's own
// topics use, for error messages: an entity id may not be one of them.
const ReservedLevels = "availability, status, error, req, res, reply"

// Reserved reports whether level is one of ReservedLevels.
func Reserved(level string) bool {
	switch level {
	case "availability", "status", "error", "req", "res", "reply":
		return true
	}
	return false
}

// MaxLen is the longest topic MQTT can carry, in bytes.
const MaxLen = 65535

// Layout is one node's topic layout:
//
//	<base>/<node>/availability        online / offline, retained; the MQTT will
//	<base>/<node>/<entity>/state      an entity's state
//	<base>/<node>/<entity>/set        commands to an entity
//	<base>/<node>/<entity>/event      an entity's events (never retained)
//	<base>/<node>/req/<method>        requests to the node
//	<base>/<node>/res/<method>        replies, unless the request named a reply topic
//	<base>/<node>/reply[/…]           replies to the node's own requests
//	<base>/_client/<client>/reply[/…] replies to a client that is not a node
//	<base>/<node>/status              the node's status, periodically
//	<base>/<node>/error               errors the node reports
//	<base>/<node>/echo                markers the node sends itself (the broker delivers its topics back)
//
// The zero value is not usable; get one from New (or the bridge's Topics).
type Layout struct {
	base, node string
}

// New returns the layout of node under base, checking both: base is one or
// more topic levels, node exactly one (and not ClientLevel), neither with
// wildcards, empty levels, a leading '$' or a NUL.
func New(base, node string) (Layout, error) {
	if err := CheckBase(base); err != nil {
		return Layout{}, err
	}
	if err := CheckLevel("node", node); err != nil {
		return Layout{}, err
	}
	if node == ClientLevel {
		return Layout{}, fmt.Errorf("node %q: the level is reserved for the replies of clients that are not nodes", node)
	}
	return Layout{base: base, node: node}, nil
}

// Base returns the base levels, "edgeagent" by default.
func (l Layout) Base() string { return l.base }

// Node returns the node's level.
func (l Layout) Node() string { return l.node }

func (l Layout) prefix() string { return l.base + "/" + l.node + "/" }

// Availability returns <base>/<node>/availability.
func (l Layout) Availability() string { return l.prefix() + "availability" }

// State returns <base>/<node>/<entity>/state.
func (l Layout) State(entity string) string { return l.prefix() + entity + "/state" }

// Command returns <base>/<node>/<entity>/set.
func (l Layout) Command(entity string) string { return l.prefix() + entity + "/set" }

// Event returns <base>/<node>/<entity>/event.
func (l Layout) Event(entity string) string { return l.prefix() + entity + "/event" }

// Status returns <base>/<node>/status.
func (l Layout) Status() string { return l.prefix() + "status" }

// Errors returns <base>/<node>/error, where the node reports errors that
// answer no request.
func (l Layout) Errors() string { return l.prefix() + "error" }

// Echo returns <base>/<node>/echo, where the node publishes markers to
// itself: one that comes back shows that the broker delivers the node's own
// topics to it, and that everything it sent before has been handled.
func (l Layout) Echo() string { return l.prefix() + "echo" }

// Reply returns <base>/<node>/reply, where the node's own requests ask for
// their replies.
func (l Layout) Reply() string { return l.prefix() + "reply" }

// Request returns <base>/<node>/req/<method> for node (this one or another).
func (l Layout) Request(node, method string) string {
	return l.base + "/" + node + "/req/" + method
}

// Requests returns the filter <base>/<node>/req/+ that matches every
// request to this node.
func (l Layout) Requests() string { return l.prefix() + "req/+" }

// Response returns <base>/<node>/res/<method>, where node replies to a
// request that named no reply topic.
func (l Layout) Response(node, method string) string {
	return l.base + "/" + node + "/res/" + method
}

// ClientReply returns <base>/_client/<client>/reply: the reply topic of a
// client that is not a node, such as the edgeagent call command. client is
// one level the client owns (its MQTT client id or user name).
func (l Layout) ClientReply(client string) string {
	return l.base + "/" + ClientLevel + "/" + client + "/reply"
}

// MethodOf returns the method of a request topic of this node.
func (l Layout) MethodOf(topic string) (string, bool) {
	p := l.prefix() + "req/"
	if !strings.HasPrefix(topic, p) {
		return "", false
	}
	m := topic[len(p):]
	return m, m != "" && !strings.Contains(m, "/")
}

// IsReplyTopic reports whether topic lies in the reply namespace: some
// node's <base>/<node>/reply or below it, or some client's
// <base>/_client/<client>/reply or below it. Those topics belong to whoever
// asked for the reply, and nothing else does: a node publishes replies there
// and nowhere else (besides its own res/ topics).
func (l Layout) IsReplyTopic(topic string) bool {
	rest, ok := strings.CutPrefix(topic, l.base+"/")
	if !ok {
		return false
	}
	owner, rest, ok := strings.Cut(rest, "/")
	if !ok || owner == "" {
		return false
	}
	if owner == ClientLevel {
		client, r, ok := strings.Cut(rest, "/")
		if !ok || client == "" {
			return false
		}
		rest = r
	}
	return rest == "reply" || strings.HasPrefix(rest, "reply/")
}

// CheckBase checks the base of a layout: levels without wildcards or empty
// levels, not starting with '$' (reserved for brokers).
func CheckBase(base string) error {
	if base == "" {
		return errors.New("base: empty")
	}
	if err := CheckName(base); err != nil {
		return fmt.Errorf("base %q: %w", base, err)
	}
	for lvl := range strings.SplitSeq(base, "/") {
		if lvl == "" {
			return fmt.Errorf("base %q: empty topic level", base)
		}
	}
	if base[0] == '$' {
		return fmt.Errorf("base %q: starts with '$', which brokers reserve", base)
	}
	return nil
}

// CheckLevel checks one topic level — a node id, a method, an entity id —
// naming it what in the error.
func CheckLevel(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: empty", what)
	}
	if strings.Contains(s, "/") {
		return fmt.Errorf("%s %q: must be one topic level, without '/'", what, s)
	}
	if err := CheckName(s); err != nil {
		return fmt.Errorf("%s %q: %w", what, s, err)
	}
	if s[0] == '$' {
		return fmt.Errorf("%s %q: starts with '$', which brokers reserve", what, s)
	}
	return nil
}

// CheckName checks a topic to publish to: non-empty UTF-8 without NUL or
// wildcards, at most MaxLen bytes.
func CheckName(s string) error {
	if err := checkChars(s); err != nil {
		return err
	}
	if i := strings.IndexAny(s, "+#"); i >= 0 {
		return fmt.Errorf("wildcard %q at byte %d: a topic to publish to cannot have one", s[i], i)
	}
	return nil
}

func checkChars(s string) error {
	switch {
	case s == "":
		return errors.New("empty topic")
	case len(s) > MaxLen:
		return fmt.Errorf("topic of %d bytes, longer than MQTT's %d", len(s), MaxLen)
	case !utf8.ValidString(s):
		return errors.New("topic is not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return errors.New("topic contains a NUL character")
	}
	return nil
}

// CheckFilter checks a subscription filter: '+' only as a whole level, '#'
// only as the whole last level.
func CheckFilter(f string) error {
	if err := checkChars(f); err != nil {
		return err
	}
	levels := strings.Split(f, "/")
	for i, lvl := range levels {
		if strings.ContainsAny(lvl, "+#") && len(lvl) > 1 {
			return fmt.Errorf("level %d %q: a wildcard must be the whole level", i+1, lvl)
		}
		if lvl == "#" && i != len(levels)-1 {
			return fmt.Errorf("level %d: '#' must be the last level", i+1)
		}
	}
	return nil
}

// Match reports whether topic matches filter (MQTT 3.1.1 §4.7): '+' matches
// one level, '#' the rest (including the parent level), and wildcards in the
// first level do not match topics starting with '$'.
func Match(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// "a/#" matches "a".
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}
