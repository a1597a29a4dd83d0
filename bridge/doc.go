// Package bridge connects the loop to MQTT (paho.mqtt.golang, MQTT 3.1.1):
// a task awaits a remote command exactly as it awaits a local queue, and
// local state reaches MQTT without the task knowing about MQTT.
//
// One Bridge serves one node. New checks every option up front; Run is the
// bridge's task, which keeps the connection and, when cancelled — its own
// task or the loop's context, as on SIGTERM — ends it cleanly:
//
//	b, err := bridge.New(l, bridge.WithBrokers("tcp://broker:1883"), bridge.WithStateDir("/var/lib/edgeagent"))
//	cmds := primitives.NewQueue[bridge.Message](16)
//	b.Subscribe(b.Topics().Command("relay"), cmds, bridge.Sub{QoS: 1, WhenFull: bridge.Hold})
//	bridge.BindEvent(b, temperature, b.Topics().State("temperature"), bridge.JSON,
//		bridge.Pub{QoS: 1, Retain: true, Latest: true})
//	g.Go("bridge", b.Run)
//
// # How the parts fit
//
// The package itself is the connection and the two ways through it; the
// rest lives in sub-packages with one job each:
//
//   - topic: the topic layout as a value, and the checks and matching of
//     topics and filters. Everything names topics through it.
//   - outbox: the persistent store-and-forward log of QoS ≥ 1 publications,
//     with its delivery policies (every message, the latest per topic, a
//     maximum age).
//   - hass: Home Assistant discovery payloads, built and checked; this
//     package publishes them (ha.go).
//   - rpc: request/reply between nodes and clients, built only on
//     SubscribeFunc and Publish; it confines replies to the reply namespace.
//   - internal/dial: the network connection (TCP, TLS, TCP_QUICKACK).
//   - internal/backoff: the reconnection schedule.
//   - bridgetest: an in-process broker and a plain client, for tests.
//
// In this package: session.go keeps the connection (connecting on the
// back-off schedule, failing over between brokers and returning to the
// preferred one, setting each session up, leaving it); conn.go is one paho
// client and its callbacks; inbound.go routes what paho hands over to the
// bindings and acknowledges it; subscriptions.go keeps what the broker is
// asked for, refused subscriptions and their retries; outbound.go is
// publishing, the outbox writer, the I/O worker and the sender; ha.go the
// Home Assistant wiring; stats.go the counters.
//
// Inbound: Subscribe binds a topic filter to a primitives.Queue,
// SubscribeFunc to a function run on the loop. Paho's callbacks hand each
// message to the loop and return: QoS 0 through a bounded inlet (past
// WithQoS0Backlog it is dropped in the callback, counted per binding), QoS
// 1 and 2 unbounded but unacknowledged until a binding took them, so the
// broker's in-flight window bounds them. A full queue is handled by the
// binding's Overflow (Hold, DropOldest, Reject), every drop counted. A
// filter the broker refuses is the binding's state ("refused"), retried
// with back-off; an echo marker the node sends itself shows a broker that
// grants subscriptions but withholds what they carry.
//
// Outbound: Publish (from tasks) and TryPublish (from callbacks) never wait
// for the broker. QoS 0 goes straight out while connected and is dropped,
// and counted, while not. QoS 1 and 2 go through the outbox: stored before
// Publish returns, sent in order with up to WithInflight unacknowledged,
// resent after a reconnect, kept across restarts and kill -9 — all of them,
// only the latest per topic (Pub.Latest), or those not older than
// Pub.MaxAge. Direct publications skip the outbox (replies, requests).
// BindEvent and BindQueue publish a primitives.Event's changes or a Queue's
// items with an Encoder.
//
// Shutdown: cancelling Run's task or the loop's context ends the same way —
// the bridge's tasks stop, the in-flight window is acknowledged, "offline"
// is published (retained), the outbox is flushed and closed, and a
// DISCONNECT comes last, all within WithShutdownTimeout; past it the link is
// dropped without a DISCONNECT, so the broker publishes the will instead.
//
// What the package must not do: block the loop (every network and disk
// call runs on the bridge's own goroutines or through loop.Offload), touch
// loop state from paho's goroutines (they post to the loop), import package
// drivers (the agent joins the two), or keep package-level state (two
// bridges in one process do not notice each other).
package bridge
