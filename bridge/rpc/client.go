package rpc

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
)

// ClientStats counts a client's calls.
type ClientStats struct {
	Sent        uint64 `json:"sent"`
	Timeouts    uint64 `json:"timeouts"`
	LateReplies uint64 `json:"late_replies"` // replies to no pending call
	BadReplies  uint64 `json:"bad_replies"`  // payloads on the reply topic that are not replies
}

// A ClientOption configures NewClient.
type ClientOption func(*Client)

// WithReplyTopic sets where replies come to; default the node's
// <base>/<node>/reply. It must lie in the reply namespace (see the package
// documentation), or nodes will refuse to answer there.
func WithReplyTopic(name string) ClientOption {
	return func(c *Client) { c.reply = name }
}

// A Client calls methods on nodes and awaits their replies.
type Client struct {
	b      *bridge.Bridge
	l      topic.Layout
	reply  string
	calls  map[string]*call
	seq    uint64
	prefix string
	st     ClientStats
}

// call is one request awaiting its reply.
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

// NewClient returns a client that calls through b: it subscribes to its
// reply topic (QoS 1). Call it before b's Run or on the loop.
func NewClient(b *bridge.Bridge, opts ...ClientOption) (*Client, error) {
	var p [4]byte
	_, _ = rand.Read(p[:])
	c := &Client{b: b, l: b.Topics(), calls: map[string]*call{}, prefix: hex.EncodeToString(p[:])}
	c.reply = c.l.Reply()
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if err := topic.CheckName(c.reply); err != nil || !c.l.IsReplyTopic(c.reply) {
		return nil, fmt.Errorf("%w: WithReplyTopic %q: not in the reply namespace (%s/<node>/reply[/…] or %s/%s/<client>/reply[/…])",
			ErrInvalid, c.reply, c.l.Base(), c.l.Base(), topic.ClientLevel)
	}
	if err := b.SubscribeFunc(c.reply, 1, c.route); err != nil {
		return nil, fmt.Errorf("rpc: NewClient: %w", err)
	}
	return c, nil
}

// Call calls method on node and awaits the reply for at most timeout: it
// publishes {"id", "reply_to", "params": params} on
// <base>/<node>/req/<method> at QoS 1 and returns the reply's "result". A
// reply with an "error" gives a *RemoteError; no reply in time gives
// loop.ErrTimeout. Requests are never stored for later: without a
// connection Call fails at once with bridge.ErrNotConnected, since a
// command delivered long after its caller gave up could do harm.
func (c *Client) Call(t *loop.Task, node, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	if err := topic.CheckLevel("node", node); err != nil {
		return nil, fmt.Errorf("%w: Call: %w", ErrInvalid, err)
	}
	if err := topic.CheckLevel("method", method); err != nil {
		return nil, fmt.Errorf("%w: Call: %w", ErrInvalid, err)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: Call: timeout %v is not positive", ErrInvalid, timeout)
	}
	c.seq++
	id := c.prefix + "-" + strconv.FormatUint(c.seq, 10)
	payload, err := EncodeRequest(id, c.reply, params)
	if err != nil {
		return nil, fmt.Errorf("%w: Call %s/%s: %w", ErrInvalid, node, method, err)
	}
	cl := &call{}
	c.calls[id] = cl
	defer delete(c.calls, id)
	if err := c.b.Publish(t, c.l.Request(node, method), payload, bridge.Pub{QoS: 1, Direct: true}); err != nil {
		return nil, err
	}
	c.st.Sent++
	err = loop.WaitFor(t, timeout, func(t *loop.Task) error {
		for !cl.done {
			if err := cl.wq.Wait(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, loop.ErrTimeout) && !t.Cancelled() {
			c.st.Timeouts++
		}
		return nil, err
	}
	if cl.err != nil {
		var re *RemoteError
		if errors.As(cl.err, &re) {
			re.Node, re.Method = node, method
		}
		return nil, cl.err
	}
	return cl.result, nil
}

// Stats returns the client's counters. Call it on the loop.
func (c *Client) Stats() ClientStats { return c.st }

// route completes the call a reply answers (on the loop).
func (c *Client) route(m bridge.Message) {
	rawID, result, err := DecodeReply(m.Payload)
	var id string
	if errors.Is(err, ErrBadReply) || json.Unmarshal(rawID, &id) != nil {
		c.st.BadReplies++
		return
	}
	cl := c.calls[id]
	if cl == nil {
		c.st.LateReplies++
		return
	}
	cl.finish(result, err)
}
