package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/edgeagent/edgeagent/bridge"
	"github.com/edgeagent/edgeagent/bridge/topic"
	"github.com/edgeagent/edgeagent/loop"
	"github.com/edgeagent/edgeagent/primitives"
)

// Errors of the package, matched with errors.Is.
var (
	// ErrInvalid: bad arguments (a method with '/', a nil handler …).
	ErrInvalid = errors.New("rpc: invalid argument")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("rpc: already running")
	// ErrBadReply: a payload on a reply topic that is not a reply.
	ErrBadReply = errors.New("rpc: not a reply")
)

// Defaults of the server's options.
const (
	DefaultQueue       = 16
	DefaultReplyMaxAge = time.Minute
)

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
	Message bridge.Message
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

// RemoteError is the error a Call returns when the other side replied with
// an error.
type RemoteError struct {
	Node, Method string
	Message      string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("rpc: %s/%s: %s", e.Node, e.Method, e.Message)
}

// ServerStats counts a server's requests.
type ServerStats struct {
	Received       uint64 `json:"received"`         // requests that reached the server
	Served         uint64 `json:"served"`           // handled (with a result or the handler's error)
	ErrorReplies   uint64 `json:"error_replies"`    // replies with an error, whatever the cause
	RefusedReplyTo uint64 `json:"refused_reply_to"` // reply_to outside the reply namespace
	Busy           uint64 `json:"busy"`             // refused because the method's queue was full
	UnknownMethod  uint64 `json:"unknown_method"`
	ReplyFailures  uint64 `json:"reply_failures"` // replies that could not be published
}

// A ServerOption configures NewServer.
type ServerOption func(*serverSettings)

type serverSettings struct {
	queue       int
	replyMaxAge time.Duration
	log         *slog.Logger
	errs        []error
}

// WithQueue sets how many requests per method may wait for their handler
// (default 16). A request beyond that gets an error reply at once ("method
// busy"): a caller learns of the overload instead of timing out, and a flood
// cannot grow the node's memory.
func WithQueue(n int) ServerOption {
	return func(s *serverSettings) {
		if n < 1 {
			s.errs = append(s.errs, fmt.Errorf("WithQueue: %d is less than 1", n))
		}
		s.queue = n
	}
}

// WithReplyMaxAge bounds how long a QoS ≥ 1 reply that could not go out at
// once (the link was down) waits in the outbox before it is dropped as
// useless to a caller who has given up (default 1 min).
func WithReplyMaxAge(d time.Duration) ServerOption {
	return func(s *serverSettings) {
		if d <= 0 {
			s.errs = append(s.errs, fmt.Errorf("WithReplyMaxAge: %v is not positive", d))
		}
		s.replyMaxAge = d
	}
}

// WithServerLogger sets the server's logger; default the bridge's.
func WithServerLogger(log *slog.Logger) ServerOption {
	return func(s *serverSettings) { s.log = log }
}

// A Server serves a node's methods. Handle registers them; Run, the
// server's task, runs one task per method, which handles its requests one
// at a time, in order.
type Server struct {
	b       *bridge.Bridge
	l       topic.Layout
	s       serverSettings
	log     *slog.Logger
	methods map[string]*method
	order   []*method
	group   *loop.Group
	running bool
	st      ServerStats
}

// method is one served method: its queue, its handler and its task.
type method struct {
	name string
	h    Handler
	q    *primitives.Queue[Request] // decoded: a malformed request never takes a place
}

// NewServer returns a server of b's node: it subscribes to
// <base>/<node>/req/+ (QoS 1). Call it before b's Run or on the loop.
func NewServer(b *bridge.Bridge, opts ...ServerOption) (*Server, error) {
	s := serverSettings{queue: DefaultQueue, replyMaxAge: DefaultReplyMaxAge}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if len(s.errs) > 0 {
		return nil, fmt.Errorf("rpc: NewServer: %w", errors.Join(s.errs...))
	}
	srv := &Server{b: b, l: b.Topics(), s: s, log: s.log, methods: map[string]*method{}}
	if srv.log == nil {
		srv.log = b.Logger()
	}
	if err := b.SubscribeFunc(srv.l.Requests(), 1, srv.route); err != nil {
		return nil, fmt.Errorf("rpc: NewServer: %w", err)
	}
	return srv, nil
}

// Handle serves method with h: requests published on
// <base>/<node>/req/<method> are queued (WithQueue deep) and handled one at
// a time, in order, by a task of the server, which publishes the reply.
// Requests for a method nobody handles get an error reply. Call it before
// Run or on the loop while Run runs.
func (s *Server) Handle(name string, h Handler) error {
	if err := topic.CheckLevel("method", name); err != nil {
		return fmt.Errorf("%w: Handle: %w", ErrInvalid, err)
	}
	if h == nil {
		return fmt.Errorf("%w: Handle %q: nil handler", ErrInvalid, name)
	}
	if _, dup := s.methods[name]; dup {
		return fmt.Errorf("%w: Handle %q: method already handled", ErrInvalid, name)
	}
	m := &method{name: name, h: h, q: primitives.NewQueue[Request](s.s.queue)}
	s.methods[name] = m
	s.order = append(s.order, m)
	if s.running {
		s.startMethod(m)
	}
	return nil
}

// Run is the server's task: it runs the method tasks until it is
// cancelled, then stops them (a handler in progress is cancelled) and
// returns the cancellation.
func (s *Server) Run(t *loop.Task) error {
	if s.running {
		return ErrRunning
	}
	s.running = true
	s.group = loop.NewGroup(t)
	for _, m := range s.order {
		s.startMethod(m)
	}
	var never loop.WaitQueue
	err := never.Wait(t)
	if serr := s.group.Stop(t); serr != nil && !errors.Is(serr, loop.ErrCancelled) {
		s.log.Warn("rpc: method tasks ended with errors", "err", serr)
	}
	return err
}

func (s *Server) startMethod(m *method) {
	s.group.Go("rpc/"+m.name, func(t *loop.Task) error {
		for {
			req, err := m.q.Get(t)
			if err != nil {
				return err
			}
			if err := s.serve(t, m, req); err != nil {
				return err
			}
		}
	})
}

// Stats returns the server's counters. Call it on the loop.
func (s *Server) Stats() ServerStats { return s.st }

// route is the subscription's function (on the loop): it queues a request
// for its method, or answers it at once when it is malformed, no handler
// serves the method or its queue is full. Malformed requests are answered
// here, not queued: a flood of them must not fill a method's queue and
// turn its valid callers away as busy.
func (s *Server) route(msg bridge.Message) {
	name, ok := s.l.MethodOf(msg.Topic)
	if !ok {
		return
	}
	s.st.Received++
	m := s.methods[name]
	req, err := s.decode(msg, name)
	if err == nil && m != nil && m.q.TryPut(req) == nil {
		return
	}
	why := ""
	switch {
	case err != nil:
		why = err.Error()
	case m == nil:
		s.st.UnknownMethod++
		why = fmt.Sprintf("unknown method %q", name)
	default:
		s.st.Busy++
		why = fmt.Sprintf("method %q busy: %d requests waiting", name, m.q.Len())
	}
	s.tryReply(req.ReplyTo, msg.QoS, s.errorReply(req.ID, why))
}

// decode decodes a request, counting a refused reply_to, and fills the
// default reply topic.
func (s *Server) decode(msg bridge.Message, name string) (Request, error) {
	req, err := decodeRequest(msg.Payload, s.l, name)
	if errors.Is(err, errReplyTo) {
		s.st.RefusedReplyTo++
		s.log.Warn("rpc: reply_to outside the reply namespace refused", "method", name, "err", err)
	}
	req.Method, req.Message = name, msg
	if req.ReplyTo == "" {
		req.ReplyTo = s.l.Response(s.l.Node(), name)
	}
	return req, err
}

// serve handles and answers one (decoded) request.
func (s *Server) serve(t *loop.Task, m *method, req Request) error {
	msg := req.Message
	result, herr := callHandler(t, s.log, m.h, &req)
	if herr != nil && isInterrupt(herr) && t.Cancelled() {
		return herr
	}
	s.st.Served++
	var payload []byte
	if herr == nil {
		payload, herr = resultReply(req.ID, result)
	}
	if herr != nil {
		payload = s.errorReply(req.ID, herr.Error())
	}
	return s.reply(t, req.ReplyTo, msg.QoS, payload)
}

func (s *Server) errorReply(id json.RawMessage, msg string) []byte {
	s.st.ErrorReplies++
	return errorReply(id, msg)
}

// callHandler runs h, turning a panic into an error.
func callHandler(t *loop.Task, log *slog.Logger, h Handler, req *Request) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("rpc: request handler panicked", "method", req.Method, "panic", r, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("internal error: handler panicked: %v", r)
		}
	}()
	return h(t, req)
}

// reply publishes a reply, not retained, at the request's QoS. A reply
// answers a caller who is waiting: it goes straight to the broker while
// connected (Direct), skipping the outbox's two hand-offs; only when the
// link is down does a QoS ≥ 1 reply wait in the outbox, for at most
// WithReplyMaxAge. It returns only the task's interruption.
func (s *Server) reply(t *loop.Task, to string, qos byte, payload []byte) error {
	err := s.b.Publish(t, to, payload, bridge.Pub{QoS: qos, Direct: true})
	if errors.Is(err, bridge.ErrNotConnected) && qos > 0 {
		err = s.b.Publish(t, to, payload, bridge.Pub{QoS: qos, MaxAge: s.s.replyMaxAge})
	}
	if err != nil {
		if isInterrupt(err) {
			return err
		}
		s.st.ReplyFailures++
		s.log.Warn("rpc: reply not sent", "topic", to, "err", err)
	}
	return nil
}

// tryReply is reply for the subscription's function, which cannot await.
func (s *Server) tryReply(to string, qos byte, payload []byte) {
	err := s.b.TryPublish(to, payload, bridge.Pub{QoS: qos, Direct: true})
	if errors.Is(err, bridge.ErrNotConnected) && qos > 0 {
		err = s.b.TryPublish(to, payload, bridge.Pub{QoS: qos, MaxAge: s.s.replyMaxAge})
	}
	if err != nil {
		s.st.ReplyFailures++
		s.log.Warn("rpc: reply not sent", "topic", to, "err", err)
	}
}

func isInterrupt(err error) bool {
	return errors.Is(err, loop.ErrCancelled) || errors.Is(err, loop.ErrTimeout)
}
