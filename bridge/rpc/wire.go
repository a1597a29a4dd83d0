package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/edgeagent/edgeagent/bridge/topic"
)

// MaxRequestSize bounds the request payload a server decodes (64 KiB); a
// larger one gets an error reply.
const MaxRequestSize = 64 << 10

// maxIDLen bounds a request id.
const maxIDLen = 256

// errReplyTo marks a reply_to outside the reply namespace.
var errReplyTo = errors.New("not a reply topic")

// wireRequest holds the raw members of a request object.
type wireRequest struct {
	ID, ReplyTo, Params json.RawMessage
}

// decodeRequest parses a request payload for method on the node of l:
//
//	{"id": "…" or 17, "reply_to": "<base>/<caller>/reply", "params": …}
//
// Other keys are ignored. It never panics; on error, the returned Request
// still carries the id when one could be read, so the error reply can be
// correlated (and its ReplyTo is empty: the error goes to the default
// topic).
func decodeRequest(payload []byte, l topic.Layout, method string) (Request, error) {
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
		if err := topic.CheckName(s); err != nil {
			return req, fmt.Errorf(`"reply_to" %q: %w`, s, err)
		}
		if !allowedReplyTo(l, s, method) {
			return req, fmt.Errorf(`"reply_to" %q: %w: replies go only to %s/<node>/reply[/…], %s/%s/<client>/reply[/…] or %s`,
				s, errReplyTo, l.Base(), l.Base(), topic.ClientLevel, l.Response(l.Node(), method))
		}
		req.ReplyTo = s
	}
	if p := w.Params; p != nil && string(p) != "null" {
		req.Params = p
	}
	return req, nil
}

// allowedReplyTo reports whether a node of layout l may publish the reply
// to a request for method on s: the reply namespace, or its own default
// reply topic for that method.
func allowedReplyTo(l topic.Layout, s, method string) bool {
	return l.IsReplyTopic(s) || s == l.Response(l.Node(), method)
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
// Invalid UTF-8 becomes U+FFFD; '<', '>' and '&' stay as they are (the
// reply is not HTML).
func errorReply(id json.RawMessage, msg string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(msg)
	return assembleReply(id, `,"error":`, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
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

// EncodeRequest returns the payload of a request with the given id,
// reply topic and params (any JSON-encodable value; nil for none): what a
// client that is not built on a bridge publishes on
// <base>/<node>/req/<method>.
func EncodeRequest(id, replyTo string, params any) ([]byte, error) {
	var raw json.RawMessage
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("rpc: params: %w", err)
		}
		raw = p
	}
	return json.Marshal(struct {
		ID      string          `json:"id"`
		ReplyTo string          `json:"reply_to,omitempty"`
		Params  json.RawMessage `json:"params,omitempty"`
	}{id, replyTo, raw})
}

// DecodeReply reads a reply payload: the id it answers (as JSON: a quoted
// string or a number), and either the result or, for an error reply, a
// *RemoteError (Node and Method left for the caller to fill). A payload that
// is not a reply gets an error matching ErrBadReply.
func DecodeReply(payload []byte) (id json.RawMessage, result json.RawMessage, err error) {
	var rep struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	}
	if err := json.Unmarshal(payload, &rep); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	if len(rep.ID) == 0 {
		return nil, nil, fmt.Errorf(`%w: no "id"`, ErrBadReply)
	}
	if rep.Error != nil {
		return rep.ID, nil, &RemoteError{Message: *rep.Error}
	}
	if rep.Result == nil {
		rep.Result = json.RawMessage("null")
	}
	return rep.ID, rep.Result, nil
}
