package bridge

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Defaults of the topic layout.
const (
	DefaultBase = "edgeagent"
)

// Reserved topic levels under <base>/<node>/: an entity id may not be one of
// them, or its topics would collide with the node's own.
var reservedLevels = [...]string{"availability", "status", "error", "req", "res", "reply"}

// maxTopicLen is the longest topic MQTT can carry.
const maxTopicLen = 65535

// Topics is a node's topic layout (see the package documentation):
//
//	<base>/<node>/availability        online / offline, retained; the MQTT will
//	<base>/<node>/<entity>/state      an entity's state
//	<base>/<node>/<entity>/set        commands to an entity
//	<base>/<node>/<entity>/event      an entity's events (never retained)
//	<base>/<node>/req/<method>        requests to the node
//	<base>/<node>/res/<method>        replies, unless the request named a reply topic
//	<base>/<node>/reply               replies to the node's own requests
//	<base>/<node>/status              the bridge's counters, periodically
//	<base>/<node>/error               errors the node reports
//
// The zero value is not usable; get one from Bridge.Topics or NewTopics.
type Topics struct {
	base, node string
}

// NewTopics returns the layout of node under base, checking both: base is
// one or more topic levels, node exactly one, neither with wildcards, empty
// levels, a leading '$' or a NUL.
func NewTopics(base, node string) (Topics, error) {
	if err := checkBase(base); err != nil {
		return Topics{}, err
	}
	if err := checkLevel("node", node); err != nil {
		return Topics{}, err
	}
	return Topics{base: base, node: node}, nil
}

// Base returns the base levels, "edgeagent" by default.
func (tp Topics) Base() string { return tp.base }

// Node returns the node's level.
func (tp Topics) Node() string { return tp.node }

func (tp Topics) prefix() string { return tp.base + "/" + tp.node + "/" }

// Availability returns <base>/<node>/availability.
func (tp Topics) Availability() string { return tp.prefix() + "availability" }

// State returns <base>/<node>/<entity>/state.
func (tp Topics) State(entity string) string { return tp.prefix() + entity + "/state" }

// Command returns <base>/<node>/<entity>/set.
func (tp Topics) Command(entity string) string { return tp.prefix() + entity + "/set" }

// Event returns <base>/<node>/<entity>/event.
func (tp Topics) Event(entity string) string { return tp.prefix() + entity + "/event" }

// Status returns <base>/<node>/status.
func (tp Topics) Status() string { return tp.prefix() + "status" }

// Error returns <base>/<node>/error.
func (tp Topics) Error() string { return tp.prefix() + "error" }

// Reply returns <base>/<node>/reply, where the node's own requests ask for
// their replies.
func (tp Topics) Reply() string { return tp.prefix() + "reply" }

// Request returns <base>/<node>/req/<method> for another node (or this one).
func (tp Topics) Request(node, method string) string {
	return tp.base + "/" + node + "/req/" + method
}

// Response returns <base>/<node>/res/<method>, where node replies to a
// request that named no reply topic.
func (tp Topics) Response(node, method string) string {
	return tp.base + "/" + node + "/res/" + method
}

// requestFilter matches every request to this node.
func (tp Topics) requestFilter() string { return tp.prefix() + "req/+" }

// methodOf returns the method of a request topic of this node.
func (tp Topics) methodOf(topic string) (string, bool) {
	p := tp.prefix() + "req/"
	if !strings.HasPrefix(topic, p) {
		return "", false
	}
	m := topic[len(p):]
	return m, m != "" && !strings.Contains(m, "/")
}

// checkBase checks the base of the layout: levels without wildcards or
// empty levels, not starting with '$' (reserved for brokers).
func checkBase(base string) error {
	if base == "" {
		return errors.New("base: empty")
	}
	if err := checkTopicName(base); err != nil {
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

// checkLevel checks one topic level: a node id, a method, an entity id.
func checkLevel(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: empty", what)
	}
	if strings.Contains(s, "/") {
		return fmt.Errorf("%s %q: must be one topic level, without '/'", what, s)
	}
	if err := checkTopicName(s); err != nil {
		return fmt.Errorf("%s %q: %w", what, s, err)
	}
	if s[0] == '$' {
		return fmt.Errorf("%s %q: starts with '$', which brokers reserve", what, s)
	}
	return nil
}

// checkTopicName checks a topic to publish to: non-empty UTF-8 without NUL
// or wildcards, at most 65535 bytes.
func checkTopicName(s string) error {
	if err := checkTopicChars(s); err != nil {
		return err
	}
	if i := strings.IndexAny(s, "+#"); i >= 0 {
		return fmt.Errorf("wildcard %q at byte %d: a topic to publish to cannot have one", s[i], i)
	}
	return nil
}

func checkTopicChars(s string) error {
	switch {
	case s == "":
		return errors.New("empty topic")
	case len(s) > maxTopicLen:
		return fmt.Errorf("topic of %d bytes, longer than MQTT's %d", len(s), maxTopicLen)
	case !utf8.ValidString(s):
		return errors.New("topic is not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return errors.New("topic contains a NUL character")
	}
	return nil
}

// checkFilter checks a subscription filter: '+' only as a whole level, '#'
// only as the whole last level.
func checkFilter(f string) error {
	if err := checkTopicChars(f); err != nil {
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

// matchTopic reports whether topic matches filter (MQTT 3.1.1 §4.7): '+'
// matches one level, '#' the rest (including the parent level), and
// wildcards in the first level do not match topics starting with '$'.
func matchTopic(filter, topic string) bool {
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
