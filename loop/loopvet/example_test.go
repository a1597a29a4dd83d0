package loopvet_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// The analyzer is normally run by cmd/loopvet (go tool loopvet ./...,
// or go vet -vettool=…); here it is run from Go on a small package.
func ExampleAnalyzer() {
	gopath, _ := filepath.Abs("testdata")
	cfg := &packages.Config{
		// loopvet uses no facts, so the dependencies' export data is enough
		// (an analyzer with facts needs packages.LoadAllSyntax).
		Mode: packages.LoadSyntax,
		Env:  append(os.Environ(), "GOPATH="+gopath, "GO111MODULE=off", "GOFLAGS="),
	}
	pkgs, err := packages.Load(cfg, "example")
	if err != nil {
		log.Fatal(err)
	}
	graph, err := checker.Analyze([]*analysis.Analyzer{loopvet.Analyzer}, pkgs, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, act := range graph.Roots {
		for _, d := range act.Diagnostics {
			pos := act.Package.Fset.Position(d.Pos)
			fmt.Printf("%s:%d: [%s] %s\n", filepath.Base(pos.Filename), pos.Line, d.Category, d.Message)
		}
	}
	// Output:
	// example.go:14: [blocking] time.Sleep blocks the loop in a function with a *loop.Task parameter; use t.Sleep(d), which lets the other tasks run meanwhile
	// example.go:15: [cancellation] error of await t.Yield is dropped, so a cancelled task carries on; check it and return it (if err := …; err != nil { return err })
	// example.go:17: [foreign-goroutine] (*primitives.Event).Set touches loop state from a go statement, which runs on a goroutine of its own; only Loop.Post and Inlet.TryPost are safe there: wrap the call in l.Post(func() { … })
	// example.go:18: [escape] task handle t is used in a go statement, which runs on a goroutine of its own; awaits there panic and Cancel races with the loop: use the task inside l.Post(func() { … }), and pass the goroutine only what it needs (the *loop.Loop, the name)
}
