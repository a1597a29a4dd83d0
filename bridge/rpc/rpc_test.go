package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// A command published on an entity's set topic reaches a task through a
// queue; the task's state publication reaches the other client.
func TestCommandQueueTaskReply(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	states := ext.sub(t, "edgeagent/n1/led/state", 1)
	cmds := primitives.NewQueue[Message](4)
	scenario(t, fastOpts(t, "n1", br.url()),
		func(b *Bridge) error { return b.Subscribe(b.Topics().Command("led"), 1, cmds, Wait) },
		func(tk *loop.Task, b *Bridge) error {
			g := loop.NewGroup(tk)
			defer g.Cancel()
			g.Go("led", func(tk *loop.Task) error {
				for {
					m, err := cmds.Get(tk)
					if err != nil {
						return err
					}
					if err := b.Publish(tk, b.Topics().State("led"), m.Payload, 1, true); err != nil {
						return err
					}
				}
			})
			if err := b.WaitConnected(tk); err != nil {
				return err
			}
			for _, cmd := range []string{"ON", "OFF", "ON"} {
				if err := offload(tk, func() { ext.pub(t, "edgeagent/n1/led/set", 1, false, cmd) }); err != nil {
					return err
				}
				if err := expect(tk, states, cmd); err != nil {
					return err
				}
			}
			return waitStats(tk, b, func(s Stats) bool {
				return len(s.Bindings) == 1 && s.Bindings[0].Acked == 3 && s.Bindings[0].Received == 3
			})
		})
}

// The request/reply convention seen from a plain MQTT client: results,
// error replies for every kind of bad request, and a handler's panic
// answered, not fatal.
func TestRequestReplyConvention(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	ext := newTestClient(t, br.url(), "ext")
	res := ext.sub(t, "edgeagent/n1/res/+", 1)
	inbox := ext.sub(t, "edgeagent/ext/inbox", 1)
	setup := func(b *Bridge) error {
		return errors.Join(
			b.Handle("echo", func(_ *loop.Task, r *Request) (any, error) { return r.Params, nil }),
			b.Handle("fail", func(*loop.Task, *Request) (any, error) { return nil, errors.New("nope") }),
			b.Handle("boom", func(*loop.Task, *Request) (any, error) { panic("kaboom") }),
			b.Handle("sum", func(_ *loop.Task, r *Request) (any, error) {
				var p struct{ A, B int }
				if err := r.Decode(&p); err != nil {
					return nil, err
				}
				return p.A + p.B, nil
			}),
		)
	}
	cases := []struct {
		method, payload string
		replies         <-chan string // nil: res
		want            string
	}{
		{"echo", `{"id":"1","params":{"x":1}}`, nil, `{"id":"1","result":{"x":1}}`},
		{"echo", `{"id":2,"reply_to":"edgeagent/ext/inbox","params":"hi"}`, nil, ""}, // to inbox
		{"echo", `not json`, nil, `{"id":null,"error":"request is not valid JSON: invalid character 'o' in literal null (expecting 'u')"}`},
		{"echo", `[1,2]`, nil, `{"id":null,"error":"request is a JSON array, expected an object {\"id\": …}"}`},
		{"echo", `{"params":1}`, nil, `{"id":null,"error":"request has no \"id\""}`},
		{"echo", `{"id":{"a":1}}`, nil, `{"id":null,"error":"\"id\" must be a string or an integer"}`},
		{"echo", `{"id":"8","reply_to":"homeassistant/sensor/x/config"}`, nil, `{"id":"8","error":"\"reply_to\" \"homeassistant/sensor/x/config\": not under \"edgeagent/\""}`},
		{"echo", `{"id":"9","reply_to":"edgeagent/+/x"}`, nil, `{"id":"9","error":"\"reply_to\" \"edgeagent/+/x\": wildcard '+' at byte 10: a topic to publish to cannot have one"}`},
		{"nosuch", `{"id":"10"}`, nil, `{"id":"10","error":"unknown method \"nosuch\""}`},
		{"fail", `{"id":"11"}`, nil, `{"id":"11","error":"nope"}`},
		{"boom", `{"id":"12"}`, nil, `{"id":"12","error":"internal error: handler panicked: kaboom"}`},
		{"sum", `{"id":"13","params":{"A":2,"B":40}}`, nil, `{"id":"13","result":42}`},
		{"sum", `{"id":"14","params":"x"}`, nil, `{"id":"14","error":"json: cannot unmarshal string into Go value of type struct { A int; B int }"}`},
		{"echo", `{"id":"15"}`, nil, `{"id":"15","result":null}`},
	}
	scenario(t, fastOpts(t, "n1", br.url()), setup, func(tk *loop.Task, b *Bridge) error {
		if err := b.WaitConnected(tk); err != nil {
			return err
		}
		for _, c := range cases {
			if err := offload(tk, func() { ext.pub(t, "edgeagent/n1/req/"+c.method, 1, false, c.payload) }); err != nil {
				return err
			}
			if c.want == "" {
				if err := expect(tk, inbox, `{"id":2,"result":"hi"}`); err != nil {
					return fmt.Errorf("reply_to: %w", err)
				}
				continue
			}
			m, err := recv(tk, res)
			if err != nil {
				return err
			}
			if m.Topic() != "edgeagent/n1/res/"+c.method || string(m.Payload()) != c.want {
				return fmt.Errorf("request %s %s:\n got %s %s\nwant %s", c.method, c.payload, m.Topic(), m.Payload(), c.want)
			}
			if m.Retained() {
				return fmt.Errorf("reply %s retained", m.Payload())
			}
		}
		s := b.Stats()
		if s.RequestErrors != 10 {
			return fmt.Errorf("RequestErrors = %d, want 10", s.RequestErrors)
		}
		return nil
	})
}

// Bridge to bridge: Request awaits the other node's reply; remote errors,
// timeouts and a missing connection are told apart.
func TestRequestBetweenBridges(t *testing.T) {
	br := startBroker(t, brokerOpts{})
	log, _ := testLogger(t)
	l := loop.New(loop.WithLogger(log))
	server, err := New(l, append(fastOpts(t, "srv", br.url()), WithLogger(log))...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := New(l, append(fastOpts(t, "cli", br.url()), WithLogger(log))...)
	if err != nil {
		t.Fatal(err)
	}
	// A bridge that never connects, for ErrNotConnected.
	lonely, err := New(l, append(fastOpts(t, "lonely", "tcp://127.0.0.1:1"), WithLogger(log))...)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(server.Handle("double", func(_ *loop.Task, r *Request) (any, error) {
		var n int
		if err := r.Decode(&n); err != nil {
			return nil, err
		}
		return 2 * n, nil
	}))
	must(server.Handle("slow", func(tk *loop.Task, r *Request) (any, error) {
		return nil, tk.Sleep(time.Hour)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	defer cancel()
	err = l.Run(ctx, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		defer g.Cancel()
		g.Go("server", server.Run)
		g.Go("client", client.Run)
		g.Go("lonely", lonely.Run)
		return loop.WaitFor(tk, testTimeout, func(tk *loop.Task) error {
			if err := server.WaitConnected(tk); err != nil {
				return err
			}
			if err := client.WaitConnected(tk); err != nil {
				return err
			}
			for i := range 20 {
				res, err := client.Request(tk, "srv", "double", i, testTimeout)
				if err != nil {
					return err
				}
				if string(res) != fmt.Sprint(2*i) {
					return fmt.Errorf("double(%d) = %s", i, res)
				}
			}
			_, err := client.Request(tk, "srv", "double", "x", testTimeout)
			var re *RemoteError
			if !errors.As(err, &re) || re.Node != "srv" || re.Method != "double" || !strings.Contains(re.Message, "cannot unmarshal") {
				return fmt.Errorf("bad params: got %v, want a *RemoteError", err)
			}
			_, err = client.Request(tk, "srv", "slow", nil, 50*time.Millisecond)
			if !errors.Is(err, loop.ErrTimeout) {
				return fmt.Errorf("slow: got %v, want ErrTimeout", err)
			}
			if _, err := lonely.Request(tk, "srv", "double", 1, time.Second); !errors.Is(err, ErrNotConnected) {
				return fmt.Errorf("lonely: got %v, want ErrNotConnected", err)
			}
			if _, err := client.Request(tk, "srv/x", "double", 1, time.Second); !errors.Is(err, ErrInvalid) {
				return fmt.Errorf("bad node: got %v, want ErrInvalid", err)
			}
			if s := client.Stats(); s.RequestTimeouts != 1 || s.RequestsSent != 22 {
				return fmt.Errorf("client stats: %+v", s)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// decodeRequest never panics, and whatever it is given, the reply the
// bridge would send is JSON with the id (or null) and a result or error.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","params":{"x":1}}`, `{"id":2,"reply_to":"edgeagent/a/b"}`, `{"id":null}`, `null`, `[]`,
		`"x"`, `{"id":"\u0000"}`, `{"id":1e3}`, `{"id":-0}`, `{"id":"x","reply_to":"edgeagent/#"}`,
		`{"id":"x","reply_to":"edgeagent//"}`, `{"id":"x","params":null}`, "\xff\xfe", `{"id":"x"`, ``, ` `,
		`{"id":"` + strings.Repeat("a", 300) + `"}`, `{"id":99999999999999999999}`,
		`{"\u0069d":"esc","params":{"a":[1,{"b":"}"}]},"id":"last"}`, ` { "id" : 7 , "params" : [ ] } `,
		`{"ID":"case"}`, `{"id":"x","reply_to":null}`, `{"params":"\"{\"","id":1}`,
	} {
		f.Add([]byte(s))
	}
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
		req, err := decodeRequest(payload, "edgeagent")
		var reply []byte
		if err != nil {
			reply = errorReply(req.ID, err.Error())
		} else {
			if req.ReplyTo != "" && !strings.HasPrefix(req.ReplyTo, "edgeagent/") {
				t.Fatalf("reply_to %q accepted", req.ReplyTo)
			}
			if req.ReplyTo != "" && checkTopicName(req.ReplyTo) != nil {
				t.Fatalf("bad reply_to %q accepted", req.ReplyTo)
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
