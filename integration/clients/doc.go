// Package clients holds the real MQTT clients the integration tests judge
// the agent with: a Go client (paho) and Mosquitto's command-line clients
// run on the host, plus the Collector both fill, whose waits all have
// deadlines (no fixed sleeps), and the latency summary the tests print.
//
// The command-line options and output parsing are shared with package
// mosquitto, which runs the same clients inside a broker's container.
// It is test support: nothing in the product imports it.
package clients
