//go:build race

package loop

// raceEnabled reports a build with the race detector, which makes each task
// switch and goroutine several times dearer: tests that prove scale run a
// smaller count then (the full count runs without it, and in benchmarks).
const raceEnabled = true
