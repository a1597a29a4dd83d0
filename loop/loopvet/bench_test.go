package loopvet_test

import (
	"go/ast"
	"testing"

	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/packages"
)

// BenchmarkAnalyzer measures loopvet on the module's own loop package and
// demo command, against a baseline in the same run: a bare ast.Inspect of
// the same files, the least any syntax-walking analyzer costs. Loading and
// type-checking, which go vet does once for all analyzers, are outside the
// timing.
func BenchmarkAnalyzer(b *testing.B) {
	cfg := &packages.Config{Mode: packages.LoadAllSyntax, Dir: "../.."}
	pkgs, err := packages.Load(cfg, "./loop", "./cmd/edgeagent")
	if err != nil {
		b.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		b.Fatal("packages did not load")
	}
	passes := make([]*analysis.Pass, len(pkgs))
	for i, p := range pkgs {
		passes[i] = &analysis.Pass{
			Analyzer:  loopvet.Analyzer,
			Fset:      p.Fset,
			Files:     p.Syntax,
			Pkg:       p.Types,
			TypesInfo: p.TypesInfo,
			Report:    func(analysis.Diagnostic) {},
		}
	}
	b.Run("baseline-inspect", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, p := range passes {
				for _, f := range p.Files {
					ast.Inspect(f, func(ast.Node) bool { n++; return true })
				}
			}
		}
	})
	b.Run("loopvet", func(b *testing.B) {
		for b.Loop() {
			for _, p := range passes {
				if _, err := loopvet.Analyzer.Run(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
