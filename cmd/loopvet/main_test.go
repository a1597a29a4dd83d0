package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBothWays runs the command the two ways the Makefile
// and developers do — standalone on package patterns, and as go vet's
// -vettool — on the analyzer's example package: both must report its four
// findings and fail.
func TestBothWays(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	// The command as go.mod's tool directive builds it, from the build
	// cache when nothing changed (go build -o would link it every time).
	out, err := exec.Command("go", "tool", "-n", "loopvet").Output()
	if err != nil {
		t.Fatalf("go tool -n loopvet: %v", err)
	}
	bin := strings.TrimSpace(string(out))
	gopath, err := filepath.Abs(filepath.Join("..", "..", "loop", "loopvet", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOPATH="+gopath, "GO111MODULE=off", "GOFLAGS=", "GOWORK=off")
	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"standalone", exec.Command(bin, "example")},
		{"vettool", exec.Command("go", "vet", "-vettool="+bin, "example")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cmd.Env = env
			tc.cmd.Dir = gopath
			out, err := tc.cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit status 0, want a failure for the findings; output:\n%s", out)
			}
			for _, want := range []string{
				"example.go:14:3: time.Sleep blocks the loop",
				"example.go:15:3: error of await t.Yield is dropped",
				"example.go:17:4: (*primitives.Event).Set touches loop state from a go statement",
				"example.go:18:8: task handle t is used in a go statement",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
