// Package integration holds the end-to-end tests: the built edgeagent
// binary against a real Mosquitto broker in a container (testcontainers-go).
// It has no code of its own beyond test helpers.
package integration
