// Package agent turns a configuration into a running edge agent: one loop
// (package loop) running the devices, the MQTT bridge with Home Assistant
// discovery (package bridge), the request methods (ping, status, read,
// reload, at), the status publication and the systemd notifications.
//
//	cfg, err := agent.LoadConfig("/etc/edgeagent/config.yaml", agent.NewHostHardware())
//	a, err := agent.New(cfg, agent.WithVersion(version))
//	err = a.Run(ctx) // until ctx is cancelled (SIGTERM); a.Reload() on SIGHUP
//
// Each device type has one file, dev_<type>.go, behind a small internal
// interface (see device): what the device is built from (its typed
// config.Spec and a Hardware that opens pins and buses, or its simulated
// twin — the drivers' test doubles — when the configuration says
// simulate), its driver task, the set commands it takes and its read. The
// rest is shared: every device runs under one supervisor that logs a
// failure by the device's name, shows it on the status topic and on the
// device's availability topic, and restarts it with back-off; observations
// go through the publish filters (package agent/filter) on the loop's clock
// to state and event topics, each payload carrying the time it was
// observed; set commands reach the device one at a time and the new state is
// published after the action.
//
// Run stops gracefully when its context is cancelled — "offline" retained,
// no more commands, requests in progress answered, devices stopped, the
// outbox flushed — within the configuration's shutdown_timeout, and returns
// an error saying what was still going on otherwise. Reload applies a new
// configuration device by device and replaces the bridge only when the MQTT
// settings or the discovery payload changed.
//
// The package must not block the loop (file reads and hardware that can be
// slow go through loop.Offload), must not simulate a device the
// configuration did not ask to simulate, and keeps no package-level mutable
// state: two agents in one process do not notice each other.
package agent
