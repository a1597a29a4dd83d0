// Package agent turns a configuration into a running edge agent: it builds
// the loop, the devices and the MQTT bridge, and owns their life-cycle,
// signals and systemd integration.
package agent
