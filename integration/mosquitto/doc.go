// Package mosquitto runs Eclipse Mosquitto 2 in Docker containers for the
// integration tests: it provides the image (the official eclipse-mosquitto:2
// when selected and present, otherwise one built locally from Debian's
// packages), brokers with Mosquitto's stock behaviour and their variants
// (persistence, TLS, password file, ACL file, dynamic-security plugin,
// a bridged pair), the faults a test injects (stop, start on the same
// address, pause), and Mosquitto's own command-line clients run inside a
// broker's container.
//
// Every address it hands out is on 127.0.0.1, on a port chosen before the
// container starts and kept across restarts. It never pulls an image: a
// missing image is built from Debian packages or reported. Containers and
// networks carry a label naming this package's scope and the process that
// made them, so a later run removes what a crashed one left without touching
// anything another live test process owns.
//
// It is test support: it takes a testing.TB, fails the test on Docker
// errors, and registers cleanups; nothing in the product imports it.
package mosquitto
