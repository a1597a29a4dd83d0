package loopvet_test

import (
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// TestAnalyzer checks every case under testdata/src against its // want
// comments: a finding without a want, or a want without its finding, fails.
//
//   - blocking: check 1, blocking calls in loop code, and the look-alikes;
//   - cancel: check 2, dropped await errors, and handled ones;
//   - escape: check 3, task handles reaching goroutines, channels, globals;
//   - foreign: check 4, loop state used from goroutines, and Post's way;
//   - suppress: //loopvet:ok with and without a reason;
//   - the loop stub itself: its unexported methods are not awaits.
//
// The packages are loaded with their dependencies' export data from the
// build cache (loopvet uses no facts), not type-checked from source as
// analysistest does for the whole standard library: the test takes well
// under a second instead of most of a minute under the race detector. The
// // want syntax is analysistest's: "// want [+N] `regexp` …", one regexp
// per finding on the line (N lines below with +N).
func TestAnalyzer(t *testing.T) {
	gopath, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &packages.Config{
		Mode: packages.LoadSyntax,
		Env:  append(os.Environ(), "GOPATH="+gopath, "GO111MODULE=off", "GOFLAGS=", "GOWORK=off"),
	}
	pkgs, err := packages.Load(cfg, "blocking", "cancel", "escape", "foreign", "suppress", "example",
		"github.com/edgeagent/edgeagent/loop")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("loading %s: %v", p.PkgPath, e)
		}
	}
	graph, err := checker.Analyze([]*analysis.Analyzer{loopvet.Analyzer}, pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, act := range graph.Roots {
		if act.Err != nil {
			t.Errorf("%s: %v", act.Package.PkgPath, act.Err)
			continue
		}
		wants := collectWants(t, act.Package.Fset, act.Package.Syntax)
		for _, d := range act.Diagnostics {
			pos := act.Package.Fset.Position(d.Pos)
			k := lineKey{pos.Filename, pos.Line}
			if i := matchWant(wants[k], d.Message); i >= 0 {
				wants[k] = append(wants[k][:i], wants[k][i+1:]...)
				continue
			}
			t.Errorf("%s:%d: unexpected finding: %s", filepath.Base(pos.Filename), pos.Line, d.Message)
		}
		for k, res := range wants {
			for _, re := range res {
				t.Errorf("%s:%d: no finding matching %q", filepath.Base(k.file), k.line, re)
			}
		}
	}
}

type lineKey struct {
	file string
	line int
}

func matchWant(res []*regexp.Regexp, msg string) int {
	for i, re := range res {
		if re.MatchString(msg) {
			return i
		}
	}
	return -1
}

// collectWants parses the // want comments of files, by the line they
// expect findings on.
func collectWants(t *testing.T, fset *token.FileSet, files []*ast.File) map[lineKey][]*regexp.Regexp {
	wants := map[lineKey][]*regexp.Regexp{}
	for _, f := range files {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				text, ok := strings.CutPrefix(c.Text, "// want ")
				if !ok {
					continue
				}
				pos := fset.Position(c.Pos())
				line := pos.Line
				if rest, ok := strings.CutPrefix(text, "+"); ok {
					n, after, _ := strings.Cut(rest, " ")
					d, err := strconv.Atoi(n)
					if err != nil {
						t.Fatalf("%s: bad line offset in %q", pos, c.Text)
					}
					line, text = line+d, after
				}
				for text = strings.TrimSpace(text); text != ""; text = strings.TrimSpace(text) {
					lit, err := nextLiteral(text)
					if err != nil {
						t.Fatalf("%s: %v in %q", pos, err, c.Text)
					}
					s, _ := strconv.Unquote(lit)
					re, err := regexp.Compile(s)
					if err != nil {
						t.Fatalf("%s: %v", pos, err)
					}
					k := lineKey{pos.Filename, line}
					wants[k] = append(wants[k], re)
					text = text[len(lit):]
				}
			}
		}
	}
	return wants
}

// nextLiteral returns the Go string literal text starts with.
func nextLiteral(text string) (string, error) {
	switch text[0] {
	case '`':
		if end := strings.IndexByte(text[1:], '`'); end >= 0 {
			return text[:end+2], nil
		}
	case '"':
		for i := 1; i < len(text); i++ {
			switch text[i] {
			case '\\':
				i++
			case '"':
				return text[:i+1], nil
			}
		}
	}
	return "", fmt.Errorf("want a string literal at %q", text)
}
