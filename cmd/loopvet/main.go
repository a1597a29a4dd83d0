// Command loopvet runs the loopvet analyzer (package loop/loopvet): it
// reports cooperative-scheduling mistakes — blocking the loop, dropped
// await errors, task handles escaping to goroutines, loop state used from
// them.
//
// It runs standalone on package patterns:
//
//	go tool loopvet ./...
//
// (go.mod names it in a tool directive) and as a vet tool:
//
//	go vet -vettool=$(go tool -n loopvet) ./...
//
// singlechecker.Main does both: when go vet invokes the tool with a single
// *.cfg argument it hands over to unitchecker, and it answers go vet's
// -V=full and -flags queries itself.
package main

import (
	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(loopvet.Analyzer) }
