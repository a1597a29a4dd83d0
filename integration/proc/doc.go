// Package proc runs real programs as child processes for the integration
// tests: it builds a main package once per test run, starts it with
// arguments and environment, captures its output line by line (a test
// waits for a line matching a pattern, with a deadline), sends signals,
// waits for the exit with a deadline and reports the exit code, and kills
// whatever is still running at the test's cleanup (and, on Linux, when the
// test process itself dies).
//
// It is test support: nothing in the product imports it.
package proc
