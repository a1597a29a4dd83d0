// Package hass builds and checks Home Assistant MQTT discovery messages for
// one edgeagent node, announced as one Home Assistant device through
// device-based discovery (topic <prefix>/device/<node>/config, Home Assistant
// 2024.11 and later).
//
// It is pure: it turns a Node description into (topic, payload, retain)
// Messages, checks the description against Home Assistant's own rules before
// anything is emitted (a config Home Assistant would reject is an error here,
// naming the entity and the key), parses the retained discovery payload read
// back from the broker, and computes the publish sequence that removes
// components which disappeared. It never touches the network, never imports
// paho or the loop, and keeps no state between calls: the MQTT bridge
// publishes what it builds, owns the topic layout (through the Topics
// interface) and decides when to announce (on connect, and again when Home
// Assistant's birth message arrives).
//
// Payloads use full key names (never the abbreviations), emit keys in a fixed
// order and never emit null or unknown keys in the device block, so the same
// Node always gives the same bytes.
package hass
