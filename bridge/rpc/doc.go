// Package rpc is request/reply between edgeagent nodes, and between them
// and clients that are not nodes, over MQTT through a bridge.
//
// A Server serves methods on <base>/<node>/req/<method>; a Client calls a
// method on a node and awaits the reply. The wire convention (the README
// and docs/mqtt.md describe it for other clients):
//
//	→ <base>/<node>/req/<method>   {"id": "c1-7", "reply_to": "<base>/<caller>/reply", "params": …}
//	← <base>/<caller>/reply        {"id": "c1-7", "result": …}   or   {"id": "c1-7", "error": "…"}
//
// Without reply_to the reply goes to <base>/<node>/res/<method>. A reply_to
// must lie in the reply namespace — some node's <base>/<node>/reply[/…],
// some client's <base>/_client/<client>/reply[/…] — or be the node's own
// res/<method>: a node never publishes a reply anywhere else, so permission
// to send a request cannot be turned into permission to publish on another
// node's command, request, state or availability topics (the confused
// deputy). A request naming any other reply_to gets an error reply on the
// default topic, and is counted.
//
// Every request gets a reply, never silence: bad JSON, a missing id, a bad
// reply_to, an unknown method, a method whose queue is full, a handler's
// error and a handler's panic all get an error reply.
//
// The package is built on the bridge's SubscribeFunc and Publish only; it
// keeps no package-level state.
package rpc
