// Package integration holds the end-to-end tests: the built edgeagent
// binary against real Mosquitto brokers in containers (testcontainers-go),
// judged by real clients, with faults injected.
//
// The harness lives in sub-packages, all test support:
//   - mosquitto: the image (official eclipse-mosquitto:2 when selected with
//     $EDGEAGENT_MOSQUITTO_IMAGE and present, else built from Debian's
//     packages), brokers and their variants, faults, in-container clients;
//   - clients: paho and host mosquitto_pub/sub clients, the Collector;
//   - proc: building a main package once per run and running it as a child;
//   - pki: certificates made in the test.
//
// TestMain prepares Docker (sweeping containers that crashed runs of this
// package left) and the builder. Without Docker the broker tests skip with
// a one-line reason; with EDGEAGENT_REQUIRE_DOCKER=1 (as .ci/run sets) they
// fail instead. Figures (start, restart, pause timings, latencies) are
// logged: run `go test -v ./integration` to see them.
package integration
