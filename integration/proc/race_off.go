//go:build !race

package proc

// RaceEnabled reports whether the test binary runs with the race
// detector; a test may pass "-race" to Build to build its child alike.
const RaceEnabled = false
