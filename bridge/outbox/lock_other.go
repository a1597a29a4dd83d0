//go:build !unix

package outbox

import "os"

// lockFile is a no-op where flock does not exist; the agent targets Linux.
func lockFile(*os.File) error { return nil }
