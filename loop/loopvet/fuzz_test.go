package loopvet_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis"
)

// stubImporter type-checks the loop and primitives stubs of testdata once
// and serves them, with the standard library from export data, to the fuzz
// target.
type stubImporter struct {
	fset *token.FileSet
	std  types.Importer
	pkgs map[string]*types.Package
}

func newStubImporter(t testing.TB, fset *token.FileSet) *stubImporter {
	im := &stubImporter{fset: fset, std: importer.ForCompiler(fset, "gc", nil), pkgs: map[string]*types.Package{}}
	for _, path := range []string{
		"github.com/edgeagent/edgeagent/loop",
		"github.com/edgeagent/edgeagent/primitives",
	} {
		dir := filepath.Join("testdata", "src", filepath.FromSlash(path))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, e := range entries {
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		pkg, err := (&types.Config{Importer: im}).Check(path, fset, files, nil)
		if err != nil {
			t.Fatal(err)
		}
		im.pkgs[path] = pkg
	}
	// The standard packages the seeds use, loaded once.
	for _, path := range []string{"sync", "io", "os", "net", "fmt", "context"} {
		if _, err := im.Import(path); err != nil {
			t.Fatal(err)
		}
	}
	return im
}

func (im *stubImporter) Import(path string) (*types.Package, error) {
	if p, ok := im.pkgs[path]; ok {
		return p, nil
	}
	p, err := im.std.Import(path)
	if err == nil {
		im.pkgs[path] = p
	}
	return p, err
}

// FuzzAnalyzer runs the analyzer on mutated packages: whatever the code —
// even code with type errors, which some drivers analyse anyway — it must
// not panic, and every finding must point into the file.
func FuzzAnalyzer(f *testing.F) {
	for _, pkg := range []string{"blocking", "cancel", "escape", "foreign", "suppress", "example"} {
		dir := filepath.Join("testdata", "src", pkg)
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			src, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(src))
		}
	}
	f.Add("package p\nimport \"github.com/edgeagent/edgeagent/loop\"\nfunc f(t *loop.Task) { go func() { select {} }() }\n")
	fset := token.NewFileSet()
	im := newStubImporter(f, fset)
	f.Fuzz(func(t *testing.T, src string) {
		file, err := parser.ParseFile(fset, "fuzz.go", src, parser.ParseComments)
		if err != nil {
			return
		}
		for _, is := range file.Imports {
			// Stick to what is loaded already: importing more
			// would make each input slow.
			if p := strings.Trim(is.Path.Value, "\"`"); im.pkgs[p] == nil {
				return
			}
		}
		info := &types.Info{
			Types:      map[ast.Expr]types.TypeAndValue{},
			Defs:       map[*ast.Ident]types.Object{},
			Uses:       map[*ast.Ident]types.Object{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
			Instances:  map[*ast.Ident]types.Instance{},
			Implicits:  map[ast.Node]types.Object{},
			Scopes:     map[ast.Node]*types.Scope{},
		}
		conf := &types.Config{Importer: im, Error: func(error) {}}
		pkg, _ := conf.Check("fuzz", fset, []*ast.File{file}, info)
		tf := fset.File(file.Pos())
		pass := &analysis.Pass{
			Analyzer:  loopvet.Analyzer,
			Fset:      fset,
			Files:     []*ast.File{file},
			Pkg:       pkg,
			TypesInfo: info,
			Report: func(d analysis.Diagnostic) {
				if fset.File(d.Pos) != tf || d.Message == "" {
					t.Errorf("finding %q at %v is outside the file", d.Message, fset.Position(d.Pos))
				}
			},
		}
		if _, err := loopvet.Analyzer.Run(pass); err != nil {
			t.Fatal(err)
		}
	})
}
