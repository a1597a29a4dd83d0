// Package await holds what the drivers' own awaits share: the checkpoint
// each of them passes before it returns data it already has, so that a
// cancelled task, or one whose WaitFor scope has expired, is told so at
// once instead of being handed more work (every await is a checkpoint).
//
// It must stay a thin layer over package loop: no state, no policy.
package await

import "github.com/edgeagent/edgeagent/loop"

// Checkpoint returns the error t's next await would fail with — the
// cancellation, or an expired timeout scope — or nil (loop.Task's
// Checkpoint). A driver calls it on its fast paths, where it returns
// without parking.
func Checkpoint(t *loop.Task) error { return t.Checkpoint() }
