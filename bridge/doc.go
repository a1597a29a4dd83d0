// Package bridge connects the loop to MQTT (paho.mqtt.golang, MQTT 3.1.1):
// a task awaits a remote command exactly as it awaits a local queue, and
// local state reaches MQTT without the task knowing about MQTT.
//
// One Bridge serves one node. New checks every option up front; Run is the
// bridge's task, which keeps the connection and ends, after publishing
// "offline", when cancelled:
//
//	b, err := bridge.New(l, bridge.WithBrokers("tcp://broker:1883"), bridge.WithStateDir("/var/lib/edgeagent"))
//	cmds := primitives.NewQueue[bridge.Message](16)
//	b.Subscribe(b.Topics().Command("relay"), 1, cmds, bridge.Wait)
//	bridge.BindEvent(b, temperature, b.Topics().State("temperature"), bridge.JSON, bridge.Pub{QoS: 1, Retain: true})
//	b.Handle("reboot", func(t *loop.Task, r *bridge.Request) (any, error) { … })
//	g.Go("bridge", b.Run)
//
// Inbound: Subscribe binds a topic filter to a primitives.Queue. Paho's
// callbacks only Post the message to the loop; a QoS 1 or 2 message is
// acknowledged to the broker once it is in the queue, and a full queue is
// handled by the binding's Policy (Wait, DropOldest, Reject), every drop
// counted in Stats and logged.
//
// Outbound: Publish (from tasks) and TryPublish (from callbacks) never wait
// for the broker. QoS 0 goes straight out while connected and is dropped,
// and counted, while not. QoS 1 and 2 go through the persistent outbox
// (package outbox) under WithStateDir: stored before Publish returns, sent
// in order with up to WithInflight unacknowledged, resent after a
// reconnect, kept across restarts and kill -9. BindEvent and BindQueue
// publish a primitives.Event's changes or a Queue's items with an Encoder.
//
// Request/reply: Handle serves a method on <base>/<node>/req/<method>;
// Request calls one on another node and awaits the reply under a timeout.
// A bad request always gets an error reply. See the README for the topic
// layout, the payloads and the delivery guarantees.
//
// Connection: the bridge dials itself (paho's auto-reconnect is off),
// retrying with exponential back-off and jitter, failing over between
// brokers in order of preference and returning to the first; it subscribes
// again and publishes "online" (retained; the will says "offline") on every
// connect. On Linux it sets TCP_QUICKACK after every read, which spares QoS 1
// round trips the 40 ms delayed-ACK stall of a broker with Nagle's algorithm
// on (Mosquitto's default).
//
// Home Assistant: WithHomeAssistant announces the node as one device
// (package hass builds the payloads), removes entities that left the
// configuration, and announces again, then republishes the states, when Home
// Assistant's birth message arrives.
//
// What the package must not do: block the loop (every network and disk
// call runs on the bridge's own goroutines or through loop.Offload), touch
// loop state from paho's goroutines (they Post), import package drivers
// (the agent joins the two), or keep package-level state (two bridges in one
// process do not notice each other).
package bridge
