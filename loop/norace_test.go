//go:build !race

package loop

// raceEnabled: see race_test.go.
const raceEnabled = false
