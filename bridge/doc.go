// Package bridge connects the loop to MQTT: Events and Queues bound to
// topics, commands delivered to tasks as awaited messages, request/reply,
// a persistent outbox and Home Assistant discovery.
//
// It never imports package drivers: the agent joins the two.
package bridge
