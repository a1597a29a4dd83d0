//go:build !unix

package agent

import "os"

// pollable is f itself where there are no pseudo-terminals to fix.
func pollable(f *os.File) (*os.File, error) { return f, nil }
