package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// MaxRequestSize bounds the request payload the bridge decodes (64 KiB);
// a larger one gets an error reply.
const MaxRequestSize = 64 << 10

// maxIDLen bounds a request id.
const maxIDLen = 256

// A Request is one decoded request, as its handler sees it.
type Request struct {
	// ID is the correlation id exactly as sent: a JSON string or number.
	ID json.RawMessage
	// Method is the last level of the request topic.
	Method string
	// ReplyTo is where the reply goes: the request's "reply_to", or
	// <base>/<node>/res/<method>.
	ReplyTo string
	// Params is the request's "params", nil when absent.
	Params json.RawMessage
	// Message is the MQTT message the request came in.
	Message Message
}

// Decode unmarshals the params into v; absent params leave v alone.
func (r *Request) Decode(v any) error {
	if len(r.Params) == 0 {
		return nil
	}
	return json.Unmarshal(r.Params, v)
}

// A Handler serves one method. Its result is sent as the reply's "result"
// (JSON-encoded); an error as the reply's "error" (its message). A panic is
// caught and answered as an error: a handler cannot bring the node down.
type Handler func(t *loop.Task, req *Request) (any, error)

// RemoteError is the error a Request returns when the other node replied
// with an error.
type RemoteError struct {
	Node, Method string
	Message      string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("bridge: %s/%s: %s", e.Node, e.Method, e.Message)
}

// method is one served method: its queue and its handler.
type method struct {
	name string
	h    Handler
	in   *inbox
}

// Handle serves method with h: requests published on
// <base>/<node>/req/<method> are queued (WithMethodQueue deep, Wait policy:
// acknowledged once queued) and handled one at a time, in order, by a task
// of the bridge, which publishes the reply. Requests for a method nobody
// handles get an error reply. Call it before Run or on the loop while Run
// runs.
func (b *Bridge) Handle(name string, h Handler) error {
	if err := checkLevel("method", name); err != nil {
		return fmt.Errorf("%w: Handle: %w", ErrInvalid, err)
	}
	if h == nil {
		return fmt.Errorf("%w: Handle %q: nil handler", ErrInvalid, name)
	}
	if _, dup := b.methods[name]; dup {
		return fmt.Errorf("%w: Handle %q: method already handled", ErrInvalid, name)
	}
	if b.state == ended {
		return ErrClosed
	}
	if len(b.methods) == 0 {
		b.addSub(&subscription{filter: b.topics.requestFilter(), qos: 1, route: b.routeRequest})
	}
	q := primitives.NewQueue[Message](b.s.methodQueue)
	m := &method{name: name, h: h, in: b.newInbox(b.topics.Request(b.topics.node, name), q, Wait)}
	b.methods[name] = m
	b.start("bridge/method "+name, func(t *loop.Task) error {
		for {
			msg, err := q.Get(t)
			if err != nil {
				return err
			}
			if err := b.serveRequest(t, m, msg); err != nil {
				return err
			}
		}
	})
	return nil
}

// routeRequest sends a request to its method's queue, or answers it at
// once when no handler serves the method.
func (b *Bridge) routeRequest(d *delivery) {
	name, ok := b.topics.methodOf(d.Topic)
	if !ok {
		return
	}
	if m := b.methods[name]; m != nil {
		b.offer(m.in, d)
		return
	}
	b.st.requestErrors++
	req, err := decodeRequest(d.Payload, b.topics.base)
	topic := b.topics.Response(b.topics.node, name)
	if err == nil && req.ReplyTo != "" {
		topic = req.ReplyTo
	}
	b.reply(topic, d.QoS, errorReply(req.ID, fmt.Sprintf("unknown method %q", name)))
}

// serveRequest decodes, handles and answers one request.
func (b *Bridge) serveRequest(t *loop.Task, m *method, msg Message) error {
	req, err := decodeRequest(msg.Payload, b.topics.base)
	req.Method = m.name
	req.Message = msg
	if req.ReplyTo == "" {
		req.ReplyTo = b.topics.Response(b.topics.node, m.name)
	}
	if err != nil {
		b.st.requestErrors++
		b.reply(req.ReplyTo, msg.QoS, errorReply(req.ID, err.Error()))
		return nil
	}
	result, herr := callHandler(t, m.h, &req)
	if herr != nil && isInterrupt(herr) && t.Cancelled() {
		return herr
	}
	var payload []byte
	if herr == nil {
		payload, herr = resultReply(req.ID, result)
	}
	if herr != nil {
		b.st.requestErrors++
		payload = errorReply(req.ID, herr.Error())
	}
	b.st.requestsServed++
	b.reply(req.ReplyTo, msg.QoS, payload)
	return nil
}

// callHandler runs h, turning a panic into an error.
func callHandler(t *loop.Task, h Handler, req *Request) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Loop().Logger().Error("bridge: request handler panicked", "method", req.Method, "panic", r, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("internal error: handler panicked: %v", r)
		}
	}()
	return h(t, req)
}

// reply publishes a reply, not retained, at the request's QoS. A reply
// answers a caller who is waiting: it goes straight to the broker while
// connected, skipping the outbox's two hand-offs (a tenth of the round
// trip); only when the link is down does a QoS ≥ 1 reply wait in the
// outbox, to go out after the reconnect.
func (b *Bridge) reply(topic string, qos byte, payload []byte) {
	if b.sendDirect(topic, payload, qos, false) {
		return
	}
	if err := b.TryPublish(topic, payload, qos, false); err != nil {
		b.log.Warn("bridge: reply not sent", "topic", topic, "err", err)
	}
}

// decodeRequest parses a request payload:
//
//	{"id": "…" or 17, "reply_to": "<base>/optional/topic", "params": …}
//
// A reply topic must lie under base: a request cannot make the node publish
// anywhere else (on a discovery topic, say). Other keys are ignored.
// It never panics; on error, the returned Request still carries the id when
// one could be read, so the error reply can be correlated.
func decodeRequest(payload []byte, base string) (Request, error) {
	var req Request
	if len(payload) > MaxRequestSize {
		return req, fmt.Errorf("request of %d bytes, more than %d", len(payload), MaxRequestSize)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return req, errors.New(`empty request: expected a JSON object {"id": …}`)
	}
	w, err := scanRequest(payload)
	if err != nil {
		return req, err
	}
	if w.ID == nil {
		return req, errors.New(`request has no "id"`)
	}
	if err := checkID(w.ID); err != nil {
		return req, err
	}
	req.ID = compactID(w.ID)
	if rt := w.ReplyTo; rt != nil && string(rt) != "null" {
		var s string
		if err := json.Unmarshal(rt, &s); err != nil {
			return req, errors.New(`"reply_to" is not a string`)
		}
		if err := checkTopicName(s); err != nil {
			return req, fmt.Errorf(`"reply_to" %q: %w`, s, err)
		}
		if !strings.HasPrefix(s, base+"/") {
			return req, fmt.Errorf(`"reply_to" %q: not under %q`, s, base+"/")
		}
		req.ReplyTo = s
	}
	if p := w.Params; p != nil && string(p) != "null" {
		req.Params = p
	}
	return req, nil
}

// wireRequest holds the raw members of a request object.
type wireRequest struct {
	ID, ReplyTo, Params json.RawMessage
}

// scanRequest picks the members "id", "reply_to" and "params" out of a
// request object. It checks the whole payload with json.Valid first, then
// walks the top level only, without reflection: a request costs a couple
// of microseconds less than with json.Unmarshal, on the path every command
// takes. Keys match exactly; a repeated key's last value wins.
func scanRequest(p []byte) (wireRequest, error) {
	var w wireRequest
	if !json.Valid(p) {
		var v any
		err := json.Unmarshal(p, &v) // for the syntax error's wording
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return w, fmt.Errorf("request is not valid JSON: %w", err)
	}
	i := skipSpace(p, 0)
	if p[i] != '{' {
		return w, fmt.Errorf(`request is a JSON %s, expected an object {"id": …}`, jsonKind(p[i]))
	}
	i = skipSpace(p, i+1)
	for p[i] != '}' {
		ke := skipString(p, i)
		key := p[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			_ = json.Unmarshal(p[i:ke], &k) // valid: json.Valid passed
			key = []byte(k)
		}
		i = skipSpace(p, ke)
		i = skipSpace(p, i+1) // past ':'
		ve := skipValue(p, i)
		switch string(key) {
		case "id":
			w.ID = p[i:ve]
		case "reply_to":
			w.ReplyTo = p[i:ve]
		case "params":
			w.Params = p[i:ve]
		}
		i = skipSpace(p, ve)
		if p[i] == ',' {
			i = skipSpace(p, i+1)
		}
	}
	return w, nil
}

// The skip functions walk JSON already known to be valid.

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at p[i] == '"'.
func skipString(p []byte, i int) int {
	for i++; p[i] != '"'; i++ {
		if p[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index after the value starting at p[i].
func skipValue(p []byte, i int) int {
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for {
			switch p[i] {
			case '"':
				i = skipString(p, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(p) {
		switch p[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// checkID accepts a JSON string (up to maxIDLen bytes) or an integer.
func checkID(id json.RawMessage) error {
	if len(id) == 0 {
		return errors.New(`"id" is empty`)
	}
	switch id[0] {
	case '"':
		var s string
		if err := json.Unmarshal(id, &s); err != nil {
			return errors.New(`"id" is not a valid string`)
		}
		if s == "" || len(s) > maxIDLen {
			return fmt.Errorf(`"id" must be 1 to %d bytes long`, maxIDLen)
		}
		return nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if _, err := strconv.ParseInt(string(id), 10, 64); err != nil {
			return errors.New(`"id" must be a string or an integer`)
		}
		return nil
	}
	return errors.New(`"id" must be a string or an integer`)
}

// compactID copies the id, so that it does not pin the payload. (A string
// or an integer token has no inner whitespace to remove.)
func compactID(id json.RawMessage) json.RawMessage {
	return append(json.RawMessage(nil), id...)
}

// errorReply encodes {"id": id, "error": msg}; a missing id is null.
func errorReply(id json.RawMessage, msg string) []byte {
	m, _ := json.Marshal(msg) // invalid UTF-8 becomes U+FFFD
	return assembleReply(id, `,"error":`, m)
}

// resultReply encodes {"id": id, "result": result}.
func resultReply(id json.RawMessage, result any) ([]byte, error) {
	if raw, ok := result.(json.RawMessage); ok && len(raw) > 0 && json.Valid(raw) {
		return assembleReply(id, `,"result":`, raw), nil // already JSON: no re-encoding
	}
	r, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("internal error: result not encodable: %w", err)
	}
	return assembleReply(id, `,"result":`, r), nil
}

// assembleReply writes {"id":<id><key><value>} without a second pass of
// the encoder over values it has already checked.
func assembleReply(id json.RawMessage, key string, value []byte) []byte {
	id = orNull(id)
	p := make([]byte, 0, len(`{"id":}`)+len(id)+len(key)+len(value))
	p = append(p, `{"id":`...)
	p = append(p, id...)
	p = append(p, key...)
	p = append(p, value...)
	return append(p, '}')
}

func orNull(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

// call is one request of this node awaiting its reply.
type call struct {
	done   bool
	result json.RawMessage
	err    error
	wq     loop.WaitQueue
}

func (c *call) finish(result json.RawMessage, err error) {
	if c.done {
		return
	}
	c.done, c.result, c.err = true, result, err
	c.wq.WakeAll()
}

// Request calls method on node and awaits the reply for at most timeout:
// it publishes {"id", "reply_to": <base>/<self>/reply, "params": params} on
// <base>/<node>/req/<method> at QoS 1 and returns the reply's "result".
// A reply with an "error" gives a *RemoteError; no reply in time gives
// loop.ErrTimeout. Requests are never stored for later: without a
// connection Request fails at once with ErrNotConnected, since a command
// delivered long after its caller gave up could do harm.
func (b *Bridge) Request(t *loop.Task, node, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	if err := checkLevel("node", node); err != nil {
		return nil, fmt.Errorf("%w: Request: %w", ErrInvalid, err)
	}
	if err := checkLevel("method", method); err != nil {
		return nil, fmt.Errorf("%w: Request: %w", ErrInvalid, err)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: Request: timeout %v is not positive", ErrInvalid, timeout)
	}
	var rawParams json.RawMessage
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("%w: Request %s/%s: params: %w", ErrInvalid, node, method, err)
		}
		rawParams = p
	}
	if b.state == ended {
		return nil, ErrClosed
	}
	if !b.Connected() {
		return nil, ErrNotConnected
	}
	id, c := b.newCall()
	defer delete(b.calls, id)
	payload, err := json.Marshal(struct {
		ID      string          `json:"id"`
		ReplyTo string          `json:"reply_to"`
		Params  json.RawMessage `json:"params,omitempty"`
	}{id, b.topics.Reply(), rawParams})
	if err != nil {
		return nil, err
	}
	if !b.sendDirect(b.topics.Request(node, method), payload, 1, false) {
		return nil, ErrNotConnected
	}
	b.st.requestsSent++
	err = loop.WaitFor(t, timeout, func(t *loop.Task) error {
		for !c.done {
			if err := c.wq.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, loop.ErrTimeout) {
			b.st.requestTimeouts++
		}
		return nil, err
	}
	if c.err != nil {
		var re *RemoteError
		if errors.As(c.err, &re) {
			re.Node, re.Method = node, method
		}
		return nil, c.err
	}
	return c.result, nil
}

func (b *Bridge) newCall() (string, *call) {
	b.callSeq++
	id := b.idPrefix + "-" + strconv.FormatUint(b.callSeq, 10)
	c := &call{}
	b.calls[id] = c
	return id, c
}

// routeReply completes the call a reply answers.
func (b *Bridge) routeReply(d *delivery) {
	var rep struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	}
	var id string
	if json.Unmarshal(d.Payload, &rep) != nil || json.Unmarshal(rep.ID, &id) != nil {
		b.st.badReplies++
		return
	}
	c := b.calls[id]
	if c == nil {
		b.st.lateReplies++
		return
	}
	if rep.Error != nil {
		c.finish(nil, &RemoteError{Message: *rep.Error})
		return
	}
	c.finish(rep.Result, nil)
}
