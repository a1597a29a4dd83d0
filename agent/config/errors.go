package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a configuration file, with its place.
type Error struct {
	// File is the file's name as given to Load or Parse.
	File string
	// Line and Col are 1-based; 0 when the problem has no single place.
	Line, Col int
	// Path is the key path in the document, e.g. "devices[2].pin"; "" for
	// the document as a whole.
	Path string
	// Msg says what is wrong and, where it can, what would be right.
	Msg string
}

// Error formats the problem as FILE:LINE:COL: PATH: MSG, leaving out what
// is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem Load or Parse found, in the order of the file.
// It is the error they return; errors.As finds it, or any one *Error in it.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sortErrors puts problems in the order of the file: those without a place
// first, then by line and column; the order of finding breaks ties. A
// problem found twice (a device's setting checked for each of its values)
// is listed once.
func sortErrors(es Errors) Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// Pos is a place in a configuration file.
type Pos struct {
	// File is the file's name as given to Load or Parse.
	File string
	// Line and Col are 1-based; 0 when unknown.
	Line, Col int
}

// String formats the place as FILE:LINE:COL.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// short formats the place without the file, for messages that point to
// another place in the same file.
func (p Pos) short() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }
