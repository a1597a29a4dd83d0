//go:build !unix

package agent

import "io"

// toJournal reports whether w is the systemd journal's stream: never off
// Unix.
func toJournal(io.Writer) bool { return false }
