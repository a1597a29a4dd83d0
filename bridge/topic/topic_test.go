package topic

import (
	"fmt"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false}, {"a/#", "a", true},
		{"a/#", "a/b/c", true}, {"#", "a/b", true}, {"#", "$SYS/x", false}, {"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true}, {"a/+/c", "a//c", true}, {"a/b", "a/b/", false}, {"+", "", true},
		{"a/+", "a/", true}, {"b/#", "a/b", false}, {"a/b/c", "a/b", false},
	} {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestLayout(t *testing.T) {
	l, err := New("site/edge", "porch")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{
		{l.Availability(), "site/edge/porch/availability"},
		{l.State("relay"), "site/edge/porch/relay/state"},
		{l.Command("relay"), "site/edge/porch/relay/set"},
		{l.Event("button"), "site/edge/porch/button/event"},
		{l.Status(), "site/edge/porch/status"},
		{l.Errors(), "site/edge/porch/error"},
		{l.Reply(), "site/edge/porch/reply"},
		{l.Echo(), "site/edge/porch/echo"},
		{l.Request("shed", "ping"), "site/edge/shed/req/ping"},
		{l.Requests(), "site/edge/porch/req/+"},
		{l.Response("porch", "ping"), "site/edge/porch/res/ping"},
		{l.ClientReply("ops"), "site/edge/_client/ops/reply"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %s, want %s", c[0], c[1])
		}
	}
	if m, ok := l.MethodOf("site/edge/porch/req/ping"); !ok || m != "ping" {
		t.Errorf("MethodOf: %q %v", m, ok)
	}
	for _, bad := range []string{"site/edge/porch/req/", "site/edge/porch/req/a/b", "site/edge/shed/req/ping"} {
		if m, ok := l.MethodOf(bad); ok {
			t.Errorf("MethodOf(%s) = %q", bad, m)
		}
	}
	// Layout is a value: it does not satisfy error by accident.
	if _, isErr := any(l).(error); isErr {
		t.Error("Layout satisfies error")
	}
	if s := fmt.Sprint(l); strings.Contains(s, "/error") {
		t.Errorf("fmt.Sprint(layout) = %s", s)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct{ base, node, want string }{
		{"", "n", "base: empty"},
		{"a/+", "n", `base "a/+": wildcard '+'`},
		{"a//b", "n", "empty topic level"},
		{"$SYS", "n", "starts with '$'"},
		{"edgeagent", "a/b", "must be one topic level"},
		{"edgeagent", "", "node: empty"},
		{"edgeagent", "$x", "starts with '$'"},
		{"edgeagent", "a\x00", "NUL"},
		{"edgeagent", "_client", "reserved for the replies of clients"},
	} {
		_, err := New(c.base, c.node)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%q, %q) = %v, want %q", c.base, c.node, err, c.want)
		}
	}
}

func TestIsReplyTopic(t *testing.T) {
	l, _ := New("edgeagent", "porch")
	for topic, want := range map[string]bool{
		"edgeagent/porch/reply":             true,
		"edgeagent/kitchen/reply":           true,
		"edgeagent/kitchen/reply/x/y":       true,
		"edgeagent/_client/ops/reply":       true,
		"edgeagent/_client/ops/reply/c1":    true,
		"edgeagent/_client/reply":           false, // no client level
		"edgeagent/_client/ops":             false,
		"edgeagent/kitchen/replyx":          false,
		"edgeagent/kitchen/req/ping":        false,
		"edgeagent/kitchen/relay/set":       false,
		"edgeagent/kitchen/relay/reply":     false, // an entity's level, not the node's
		"edgeagent/kitchen/availability":    false,
		"edgeagent/reply":                   false,
		"edgeagent//reply":                  false,
		"homeassistant/device/porch/config": false,
		"other/kitchen/reply":               false,
		"edgeagentx/kitchen/reply":          false,
	} {
		if got := l.IsReplyTopic(topic); got != want {
			t.Errorf("IsReplyTopic(%s) = %v, want %v", topic, got, want)
		}
	}
}

func TestCheckFilterAndName(t *testing.T) {
	for f, want := range map[string]string{
		"a/#/b": "'#' must be the last level", "a/b+": "a wildcard must be the whole level", "": "empty topic",
		"a/#": "", "+/+": "", "a/\xff": "not valid UTF-8",
	} {
		err := CheckFilter(f)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckFilter(%q) = %v, want %q", f, err, want)
		}
	}
	if err := CheckName("a/" + strings.Repeat("x", MaxLen)); err == nil {
		t.Error("over-long topic accepted")
	}
	if err := CheckName("a/#"); err == nil {
		t.Error("wildcard in a topic name accepted")
	}
	for _, lvl := range []string{"availability", "status", "error", "req", "res", "reply"} {
		if !Reserved(lvl) || !strings.Contains(ReservedLevels, lvl) {
			t.Errorf("%s not reserved", lvl)
		}
	}
	if Reserved("relay") {
		t.Error("relay reserved")
	}
}

func ExampleNew() {
	l, err := New(DefaultBase, "porch")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Command("relay"))
	fmt.Println(l.State("relay"))
	fmt.Println(l.Request("shed", "ping"))
	fmt.Println(l.ClientReply("ops-laptop"))
	// Output:
	// edgeagent/porch/relay/set
	// edgeagent/porch/relay/state
	// edgeagent/shed/req/ping
	// edgeagent/_client/ops-laptop/reply
}
