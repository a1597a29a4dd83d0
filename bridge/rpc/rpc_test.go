package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/bridgetest"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// node is one bridge with a server and a client, for the scenarios.
type node struct {
	b   *bridge.Bridge
	srv *Server
	cli *Client
}

func newNode(t testing.TB, l *loop.Loop, log *slog.Logger, name, url string, opts ...bridge.Option) *node {
	t.Helper()
	b, err := bridge.New(l, append([]bridge.Option{
		bridge.WithBrokers(url), bridge.WithNode(name), bridge.WithStateDir(t.TempDir()), bridge.WithLogger(log),
		bridge.WithBackoff(5*time.Millisecond, 50*time.Millisecond), bridge.WithShutdownTimeout(2 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(b)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClient(b)
	if err != nil {
		t.Fatal(err)
	}
	return &node{b, srv, cli}
}

// run runs the nodes' bridges and servers beside body on l.
func run(t *testing.T, l *loop.Loop, nodes []*node, body func(tk *loop.Task) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*bridgetest.Timeout)
	defer cancel()
	err := l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		defer g.Cancel()
		for i, n := range nodes {
			g.Go(fmt.Sprintf("bridge %d", i), n.b.Run)
			g.Go(fmt.Sprintf("server %d", i), n.srv.Run)
		}
		return loop.WaitFor(tk, bridgetest.Timeout, func(tk *loop.Task) error {
			for _, n := range nodes {
				if err := n.b.WaitConnected(tk); err != nil {
					return err
				}
			}
			return body(tk)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testLog(t testing.TB) *slog.Logger {
	var buf syncBuf
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recv waits, off the loop, for the next message on ch.
func recv(tk *loop.Task, ch <-chan mqtt.Message) (mqtt.Message, error) {
	return loop.Offload(tk, func(ctx context.Context) (mqtt.Message, error) {
		select {
		case m := <-ch:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

func offload(tk *loop.Task, fn func()) error {
	_, err := loop.Offload(tk, func(context.Context) (struct{}, error) {
		fn()
		return struct{}{}, nil
	})
	return err
}

// The request/reply convention seen from a plain MQTT client: results,
// error replies for every kind of bad request, and a handler's panic
// answered, not fatal.
func TestRequestReplyConvention(t *testing.T) {
	br := bridgetest.StartBroker(t, bridgetest.BrokerOptions{})
	ext := bridgetest.NewClient(t, br.URL(), "ext")
	res := ext.Sub(t, "edgeagent/n1/res/+", 1)
	inbox := ext.Sub(t, "edgeagent/ext/reply/#", 1)
	l := loop.New(loop.WithLogger(testLog(t)))
	n := newNode(t, l, testLog(t), "n1", br.URL())
	for _, err := range []error{
		n.srv.Handle("echo", func(_ *loop.Task, r *Request) (any, error) { return r.Params, nil }),
		n.srv.Handle("fail", func(*loop.Task, *Request) (any, error) { return nil, errors.New("nope") }),
		n.srv.Handle("boom", func(*loop.Task, *Request) (any, error) { panic("kaboom") }),
		n.srv.Handle("sum", func(_ *loop.Task, r *Request) (any, error) {
			var p struct{ A, B int }
			if err := r.Decode(&p); err != nil {
				return nil, err
			}
			return p.A + p.B, nil
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		method, payload string
		inbox           bool // the reply goes to edgeagent/ext/reply/…
		want            string
	}{
		{"echo", `{"id":"1","params":{"x":1}}`, false, `{"id":"1","result":{"x":1}}`},
		{"echo", `{"id":2,"reply_to":"edgeagent/ext/reply/c2","params":"hi"}`, true, `{"id":2,"result":"hi"}`},
		{"echo", `not json`, false, `{"id":null,"error":"request is not valid JSON: invalid character 'o' in literal null (expecting 'u')"}`},
		{"echo", `[1,2]`, false, `{"id":null,"error":"request is a JSON array, expected an object {\"id\": …}"}`},
		{"echo", `{"params":1}`, false, `{"id":null,"error":"request has no \"id\""}`},
		{"echo", `{"id":{"a":1}}`, false, `{"id":null,"error":"\"id\" must be a string or an integer"}`},
		{"echo", `{"id":"8","reply_to":"homeassistant/sensor/x/config"}`, false,
			`{"id":"8","error":"\"reply_to\" \"homeassistant/sensor/x/config\": not a reply topic: replies go only to edgeagent/<node>/reply[/…], edgeagent/_client/<client>/reply[/…] or edgeagent/n1/res/echo"}`},
		{"echo", `{"id":"9","reply_to":"edgeagent/+/x"}`, false, `{"id":"9","error":"\"reply_to\" \"edgeagent/+/x\": wildcard '+' at byte 10: a topic to publish to cannot have one"}`},
		{"nosuch", `{"id":"10"}`, false, `{"id":"10","error":"unknown method \"nosuch\""}`},
		{"fail", `{"id":"11"}`, false, `{"id":"11","error":"nope"}`},
		{"boom", `{"id":"12"}`, false, `{"id":"12","error":"internal error: handler panicked: kaboom"}`},
		{"sum", `{"id":"13","params":{"A":2,"B":40}}`, false, `{"id":"13","result":42}`},
		{"sum", `{"id":"14","params":"x"}`, false, `{"id":"14","error":"json: cannot unmarshal string into Go value of type struct { A int; B int }"}`},
		{"echo", `{"id":"15"}`, false, `{"id":"15","result":null}`},
		{"echo", `{"id":"16","reply_to":"edgeagent/n1/res/echo"}`, false, `{"id":"16","result":null}`},
	}
	run(t, l, []*node{n}, func(tk *loop.Task) error {
		for _, c := range cases {
			if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/req/"+c.method, 1, false, c.payload) }); err != nil {
				return err
			}
			ch, topicWant := res, "edgeagent/n1/res/"+c.method
			if c.inbox {
				ch, topicWant = inbox, "edgeagent/ext/reply/c2"
			}
			m, err := recv(tk, ch)
			if err != nil {
				return err
			}
			if m.Topic() != topicWant || string(m.Payload()) != c.want {
				return fmt.Errorf("request %s %s:\n got %s %s\nwant %s %s", c.method, c.payload, m.Topic(), m.Payload(), topicWant, c.want)
			}
			if m.Retained() {
				return fmt.Errorf("reply %s retained", m.Payload())
			}
		}
		st := n.srv.Stats()
		if st.ErrorReplies != 10 || st.Received != uint64(len(cases)) || st.RefusedReplyTo != 1 || st.UnknownMethod != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// A request can make a node publish its reply only in the reply
// namespace: every other target — another node's request, command, state,
// availability or status topic, the discovery prefix, the node's own
// command topic — is refused with an error reply on the default topic,
// publishes nothing there, and is counted. A reply to another node's reply
// topic, and to a non-node client's, still works.
func TestReplyNamespace(t *testing.T) {
	br := bridgetest.StartBroker(t, bridgetest.BrokerOptions{})
	ext := bridgetest.NewClient(t, br.URL(), "ext")
	res := ext.Sub(t, "edgeagent/n1/res/echo", 1)
	everything := ext.Sub(t, "#", 1)
	l := loop.New(loop.WithLogger(testLog(t)))
	n := newNode(t, l, testLog(t), "n1", br.URL())
	if err := n.srv.Handle("echo", func(_ *loop.Task, r *Request) (any, error) { return "pong", nil }); err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"edgeagent/n2/req/reboot",        // another node's request
		"edgeagent/n2/relay/set",         // another node's command
		"edgeagent/n2/relay/state",       // another node's state
		"edgeagent/n2/availability",      // another node's availability
		"edgeagent/n2/status",            // another node's status
		"edgeagent/n2/res/echo",          // another node's default reply topic
		"edgeagent/n1/relay/set",         // the node's own command
		"edgeagent/n1/req/echo",          // the node's own requests (a loop)
		"edgeagent/n1/res/other",         // its default reply topic of another method
		"homeassistant/device/n2/config", // the discovery prefix
		"homeassistant/status",           // Home Assistant's birth topic
		"edgeagent/_client/reply",        // no client level
		"edgeagent/n2/relay/reply",       // an entity level named reply
		"edgeagentx/n2/reply",            // not under the base
	}
	allowed := []string{"edgeagent/n2/reply", "edgeagent/n2/reply/call-1", "edgeagent/_client/ops/reply", "edgeagent/_client/ops/reply/x"}
	run(t, l, []*node{n}, func(tk *loop.Task) error {
		for i, to := range forbidden {
			p := fmt.Sprintf(`{"id":%d,"reply_to":%q}`, i, to)
			if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/req/echo", 1, false, p) }); err != nil {
				return err
			}
			m, err := recv(tk, res)
			if err != nil {
				return err
			}
			id, _, err := DecodeReply(m.Payload())
			var re *RemoteError
			if want := fmt.Sprintf(`"reply_to" %q: not a reply topic`, to); string(id) != fmt.Sprint(i) || !errors.As(err, &re) || !strings.HasPrefix(re.Message, want) {
				return fmt.Errorf("reply_to %s: got %s, want an error starting %s", to, m.Payload(), want)
			}
		}
		for i, to := range allowed {
			p := fmt.Sprintf(`{"id":%d,"reply_to":%q}`, 100+i, to)
			if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/req/echo", 1, false, p) }); err != nil {
				return err
			}
		}
		// Everything the broker carried, in order: the requests, the
		// error replies on res/echo, then the four good replies. Nothing
		// ever reached a forbidden topic.
		got := map[string]bool{}
		for len(got) < len(allowed) {
			m, err := recv(tk, everything)
			if err != nil {
				return err
			}
			for _, to := range forbidden {
				// (Our own requests travel on edgeagent/n1/req/echo; a
				// reply would carry no reply_to.)
				if m.Topic() == to && !strings.Contains(string(m.Payload()), `"reply_to"`) {
					return fmt.Errorf("the node published %s on %s", m.Payload(), to)
				}
			}
			for i, to := range allowed {
				if m.Topic() == to && string(m.Payload()) == fmt.Sprintf(`{"id":%d,"result":"pong"}`, 100+i) {
					got[to] = true
				}
			}
		}
		if st := n.srv.Stats(); st.RefusedReplyTo != uint64(len(forbidden)) || st.Served != uint64(len(allowed)) {
			return fmt.Errorf("stats %+v, want %d refused, %d served", st, len(forbidden), len(allowed))
		}
		return nil
	})
}

// Node to node: Call awaits the other node's reply; remote errors,
// timeouts and a missing connection are told apart. A client that is not a
// node calls through its own reply topic under _client.
func TestCallBetweenNodes(t *testing.T) {
	br := bridgetest.StartBroker(t, bridgetest.BrokerOptions{})
	log := testLog(t)
	l := loop.New(loop.WithLogger(log))
	server := newNode(t, l, log, "srv", br.URL())
	client := newNode(t, l, log, "cli", br.URL())
	ops, err := NewClient(client.b, WithReplyTopic(client.b.Topics().ClientReply("ops")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(client.b, WithReplyTopic("edgeagent/cli/state")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reply topic outside the namespace: %v", err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(server.srv.Handle("double", func(_ *loop.Task, r *Request) (any, error) {
		var n int
		if err := r.Decode(&n); err != nil {
			return nil, err
		}
		return 2 * n, nil
	}))
	must(server.srv.Handle("slow", func(tk *loop.Task, r *Request) (any, error) {
		return nil, tk.Sleep(time.Hour)
	}))
	run(t, l, []*node{server, client}, func(tk *loop.Task) error {
		for i := range 20 {
			res, err := client.cli.Call(tk, "srv", "double", i, bridgetest.Timeout)
			if err != nil {
				return err
			}
			if string(res) != fmt.Sprint(2*i) {
				return fmt.Errorf("double(%d) = %s", i, res)
			}
		}
		if res, err := ops.Call(tk, "srv", "double", 21, bridgetest.Timeout); err != nil || string(res) != "42" {
			return fmt.Errorf("call from a non-node client: %s %v", res, err)
		}
		_, err := client.cli.Call(tk, "srv", "double", "x", bridgetest.Timeout)
		var re *RemoteError
		if !errors.As(err, &re) || re.Node != "srv" || re.Method != "double" || !strings.Contains(re.Message, "cannot unmarshal") {
			return fmt.Errorf("bad params: got %v, want a *RemoteError", err)
		}
		_, err = client.cli.Call(tk, "srv", "slow", nil, 50*time.Millisecond)
		if !errors.Is(err, loop.ErrTimeout) {
			return fmt.Errorf("slow: got %v, want ErrTimeout", err)
		}
		if _, err := client.cli.Call(tk, "srv/x", "double", 1, time.Second); !errors.Is(err, ErrInvalid) {
			return fmt.Errorf("bad node: got %v, want ErrInvalid", err)
		}
		if s := client.cli.Stats(); s.Timeouts != 1 || s.Sent != 22 {
			return fmt.Errorf("client stats: %+v", s)
		}
		return nil
	})
}

// Without a connection a call fails at once: requests are never stored.
func TestCallNotConnected(t *testing.T) {
	log := testLog(t)
	l := loop.New(loop.WithLogger(log))
	lonely := newNode(t, l, log, "lonely", "tcp://127.0.0.1:1")
	defer lonely.b.Close()
	err := l.Run(context.Background(), func(tk *loop.Task) error {
		_, err := lonely.cli.Call(tk, "srv", "double", 1, time.Second)
		return err
	})
	if !errors.Is(err, bridge.ErrNotConnected) {
		t.Fatalf("got %v, want bridge.ErrNotConnected", err)
	}
}

// blockingNode is node n1 with a queue of two places and one method,
// "block", whose handler holds until release is closed; ext is a plain
// client, and res its subscription to the method's default reply topic.
func blockingNode(t *testing.T) (l *loop.Loop, n *node, ext *bridgetest.Client, res <-chan mqtt.Message, release chan struct{}) {
	t.Helper()
	br := bridgetest.StartBroker(t, bridgetest.BrokerOptions{})
	ext = bridgetest.NewClient(t, br.URL(), "ext")
	res = ext.Sub(t, "edgeagent/n1/res/block", 1)
	log := testLog(t)
	l = loop.New(loop.WithLogger(log))
	b, err := bridge.New(l, bridge.WithBrokers(br.URL()), bridge.WithNode("n1"), bridge.WithStateDir(t.TempDir()), bridge.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(b, WithQueue(2))
	if err != nil {
		t.Fatal(err)
	}
	release = make(chan struct{})
	if err := srv.Handle("block", func(tk *loop.Task, r *Request) (any, error) {
		return loop.Offload(tk, func(ctx context.Context) (string, error) { <-release; return "done", nil })
	}); err != nil {
		t.Fatal(err)
	}
	n = &node{b: b, srv: srv}
	return l, n, ext, res, release
}

// A method whose queue is full answers at once that it is busy: memory
// stays bounded and the caller learns why.
func TestBusyMethodAnswers(t *testing.T) {
	l, n, ext, res, release := blockingNode(t)
	srv := n.srv
	run(t, l, []*node{n}, func(tk *loop.Task) error {
		// One in the handler, two queued, the fourth refused.
		for i := range 4 {
			p := fmt.Sprintf(`{"id":%d}`, i)
			if err := offload(tk, func() { ext.Pub(t, "edgeagent/n1/req/block", 1, false, p) }); err != nil {
				return err
			}
		}
		m, err := recv(tk, res)
		if err != nil {
			return err
		}
		if want := `{"id":3,"error":"method \"block\" busy: 2 requests waiting"}`; string(m.Payload()) != want {
			return fmt.Errorf("got %s, want %s", m.Payload(), want)
		}
		close(release)
		for i := range 3 {
			m, err := recv(tk, res)
			if err != nil {
				return err
			}
			if want := fmt.Sprintf(`{"id":%d,"result":"done"}`, i); string(m.Payload()) != want {
				return fmt.Errorf("got %s, want %s", m.Payload(), want)
			}
		}
		if st := srv.Stats(); st.Busy != 1 || st.Served != 3 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// Malformed requests are answered at once and never take a place in the
// method's queue: a flood of them cannot make the method busy for valid
// callers.
func TestMalformedRequestsDoNotFillTheQueue(t *testing.T) {
	l, n, ext, res, release := blockingNode(t)
	srv := n.srv
	malformed := []string{`{"id":`, `{"params":1}`, `{"id":7,"reply_to":"edgeagent/n2/lamp/set"}`, `[]`, `{"id":null}`}
	run(t, l, []*node{n}, func(tk *loop.Task) error {
		// The first valid request holds the handler; then, while it is
		// held, more malformed requests than the queue's places, then two
		// valid ones, which must find room.
		pub := func(p string) error {
			return offload(tk, func() { ext.Pub(t, "edgeagent/n1/req/block", 1, false, p) })
		}
		if err := pub(`{"id":"v0"}`); err != nil {
			return err
		}
		for _, p := range malformed {
			if err := pub(p); err != nil {
				return err
			}
		}
		for _, p := range []string{`{"id":"v1"}`, `{"id":"v2"}`} {
			if err := pub(p); err != nil {
				return err
			}
		}
		// Every malformed one is answered with an error before any valid
		// one is served (the handler is still held).
		for range malformed {
			m, err := recv(tk, res)
			if err != nil {
				return err
			}
			if p := string(m.Payload()); !strings.Contains(p, `"error":`) || strings.Contains(p, "busy") {
				return fmt.Errorf("malformed request answered %s, want its own error", p)
			}
		}
		close(release)
		for _, id := range []string{"v0", "v1", "v2"} {
			m, err := recv(tk, res)
			if err != nil {
				return err
			}
			if want := fmt.Sprintf(`{"id":%q,"result":"done"}`, id); string(m.Payload()) != want {
				return fmt.Errorf("got %s, want %s", m.Payload(), want)
			}
		}
		if st := srv.Stats(); st.Busy != 0 || st.Served != 3 {
			return fmt.Errorf("stats %+v, want none busy and 3 served", st)
		}
		return nil
	})
}

func TestServerOptions(t *testing.T) {
	l := loop.New()
	b, err := bridge.New(l, bridge.WithBrokers("tcp://127.0.0.1:1"), bridge.WithNode("n1"), bridge.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = NewServer(b, WithQueue(0), WithReplyMaxAge(-1))
	if err == nil || !strings.Contains(err.Error(), "WithQueue: 0 is less than 1") || !strings.Contains(err.Error(), "WithReplyMaxAge: -1ns is not positive") {
		t.Fatalf("got %v", err)
	}
	srv, err := NewServer(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{srv.Handle("a/b", func(*loop.Task, *Request) (any, error) { return nil, nil }), "one topic level"},
		{srv.Handle("ok", nil), "nil handler"},
	} {
		if !errors.Is(c.err, ErrInvalid) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want ErrInvalid with %q", c.err, c.want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	p, err := EncodeRequest("c1-7", "edgeagent/_client/ops/reply", [2]int{2, 40})
	if err != nil || string(p) != `{"id":"c1-7","reply_to":"edgeagent/_client/ops/reply","params":[2,40]}` {
		t.Fatalf("EncodeRequest: %s %v", p, err)
	}
	id, res, err := DecodeReply([]byte(`{"id":"c1-7","result":42}`))
	if string(id) != `"c1-7"` || string(res) != "42" || err != nil {
		t.Fatalf("DecodeReply: %s %s %v", id, res, err)
	}
	_, _, err = DecodeReply([]byte(`{"id":8,"error":"nope"}`))
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "nope" {
		t.Fatalf("error reply: %v", err)
	}
	for _, bad := range []string{`nope`, `{"result":1}`, `[]`} {
		if _, _, err := DecodeReply([]byte(bad)); !errors.Is(err, ErrBadReply) {
			t.Errorf("DecodeReply(%s) = %v, want ErrBadReply", bad, err)
		}
	}
}

// decodeRequest never panics, and whatever it is given, the reply the
// server would send is JSON with the id (or null) and a result or error;
// an accepted reply_to is always in the reply namespace.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","params":{"x":1}}`, `{"id":2,"reply_to":"edgeagent/a/reply"}`, `{"id":null}`, `null`, `[]`,
		`"x"`, `{"id":"\u0000"}`, `{"id":1e3}`, `{"id":-0}`, `{"id":"x","reply_to":"edgeagent/#"}`,
		`{"id":"x","reply_to":"edgeagent//"}`, `{"id":"x","params":null}`, "\xff\xfe", `{"id":"x"`, ``, ` `,
		`{"id":"` + strings.Repeat("a", 300) + `"}`, `{"id":99999999999999999999}`,
		`{"\u0069d":"esc","params":{"a":[1,{"b":"}"}]},"id":"last"}`, ` { "id" : 7 , "params" : [ ] } `,
		`{"ID":"case"}`, `{"id":"x","reply_to":null}`, `{"params":"\"{\"","id":1}`,
		`{"id":1,"reply_to":"edgeagent/b/relay/set"}`, `{"id":1,"reply_to":"edgeagent/_client/x/reply/y"}`,
		`{"id":1,"reply_to":"edgeagent/n/res/m"}`,
	} {
		f.Add([]byte(s))
	}
	l, _ := topic.New("edgeagent", "n")
	f.Fuzz(func(t *testing.T, payload []byte) {
		// The hand-written scanner agrees with encoding/json.
		w, serr := scanRequest(payload)
		var ref map[string]json.RawMessage
		rerr := json.Unmarshal(payload, &ref)
		if (serr == nil) != (rerr == nil && ref != nil) {
			t.Fatalf("scan error %v, encoding/json error %v (map %v)", serr, rerr, ref)
		}
		if serr == nil && (!bytes.Equal(w.ID, ref["id"]) || !bytes.Equal(w.ReplyTo, ref["reply_to"]) || !bytes.Equal(w.Params, ref["params"])) {
			t.Fatalf("scan %q %q %q, encoding/json %q %q %q", w.ID, w.ReplyTo, w.Params, ref["id"], ref["reply_to"], ref["params"])
		}
		req, err := decodeRequest(payload, l, "m")
		var reply []byte
		if err != nil {
			reply = errorReply(req.ID, err.Error())
			if req.ReplyTo != "" {
				t.Fatalf("reply_to %q kept beside error %v", req.ReplyTo, err)
			}
		} else {
			if req.ReplyTo != "" && (!l.IsReplyTopic(req.ReplyTo) && req.ReplyTo != "edgeagent/n/res/m" || topic.CheckName(req.ReplyTo) != nil) {
				t.Fatalf("reply_to %q accepted", req.ReplyTo)
			}
			var e error
			reply, e = resultReply(req.ID, req.Params)
			if e != nil {
				t.Fatalf("result reply: %v", e)
			}
		}
		var back struct {
			ID     json.RawMessage  `json:"id"`
			Result *json.RawMessage `json:"result"`
			Error  *string          `json:"error"`
		}
		if e := json.Unmarshal(reply, &back); e != nil {
			t.Fatalf("reply %q is not JSON: %v", reply, e)
		}
		if (back.Error == nil) == (err != nil) {
			t.Fatalf("reply %q for error %v", reply, err)
		}
		if len(back.ID) == 0 {
			t.Fatalf("reply %q without id", reply)
		}
		if err == nil && string(back.ID) == "null" {
			t.Fatalf("accepted request without id: %q", payload)
		}
	})
}
