package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The document is decoded from go-yaml's syntax tree by hand rather than
// through yaml.Unmarshal: that stops at the first problem, while a user
// fixing a config wants every problem at once, each with its place, and
// unknown keys with the nearest valid one.

// Bounds that keep hostile or broken input cheap.
const (
	// MaxFileSize is the largest configuration file accepted.
	MaxFileSize = 4 << 20
	// nodeBudget bounds the nodes decoded, aliases expanded included.
	nodeBudget = 1 << 20
	// aliasDepth bounds chains of aliases to aliases.
	aliasDepth = 32
)

// decoder walks one document and collects problems.
type decoder struct {
	file    string
	errs    Errors
	anchors map[string][]*ast.AnchorNode // by name, in document order
	budget  int
	spent   bool // the budget ran out (reported once)
	// keys, when set, records every valid key asked for (the test that
	// the documentation lists every key uses it).
	keys map[string]bool
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, anchors: map[string][]*ast.AnchorNode{}, budget: nodeBudget}
}

// pos returns the place of a token.
func (d *decoder) pos(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// nodePos returns the place of a node: for a mapping, its first key.
func (d *decoder) nodePos(n ast.Node) Pos {
	switch m := n.(type) {
	case nil:
		return Pos{File: d.file}
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			return d.nodePos(m.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return d.nodePos(m.Key)
	case *ast.AnchorNode:
		return d.pos(m.Start)
	case *ast.SequenceNode:
		return d.pos(m.Start)
	}
	return d.pos(n.GetToken())
}

// errorf records a problem at p.
func (d *decoder) errorf(p Pos, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// collectAnchors indexes every anchor of the document, so aliases can be
// resolved to the latest anchor of their name defined before them.
func (d *decoder) collectAnchors(n ast.Node) {
	ast.Walk(anchorVisitor{d}, n)
}

type anchorVisitor struct{ d *decoder }

// Visit records an anchor node.
func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		name := a.Name.GetToken().Value
		v.d.anchors[name] = append(v.d.anchors[name], a)
	}
	return v
}

// offset returns a node's byte offset in the file, for ordering.
func offset(n ast.Node) int {
	if n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Offset
}

// resolve follows anchors, aliases and tags to the node that holds the
// value. It returns nil for an unresolvable alias (reported) and when the
// budget is spent (reported once).
func (d *decoder) resolve(path string, n ast.Node) ast.Node {
	for depth := 0; n != nil; depth++ {
		if d.budget--; d.budget < 0 {
			if !d.spent {
				d.spent = true
				d.errorf(d.nodePos(n), path, "the document is too large once its aliases are expanded (more than %d nodes)", nodeBudget)
			}
			return nil
		}
		if depth > aliasDepth {
			d.errorf(d.nodePos(n), path, "aliases nest deeper than %d levels (an alias inside its own anchor?)", aliasDepth)
			return nil
		}
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			switch tag := v.Start.Value; tag {
			case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
				// Standard tags: the value's own form says the same or
				// less; !!str is honoured where strings are read.
				n = v.Value
			default:
				d.errorf(d.pos(v.Start), path, "tag %s is not supported", tag)
				return nil
			}
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			var target *ast.AnchorNode
			for _, a := range d.anchors[name] {
				if offset(a) < offset(v) {
					target = a
				}
			}
			if target == nil {
				d.errorf(d.pos(v.Start), path, "alias *%s names no anchor defined before it", name)
				return nil
			}
			n = target.Value
		default:
			return n
		}
	}
	return nil
}

// isNull reports whether a resolved node is an empty or null value.
func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// describe names a node's kind for "expected X, got Y" messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.BoolNode:
		return fmt.Sprintf("%v (a boolean)", v.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return fmt.Sprintf("%s (a number)", v.GetToken().Value)
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.LiteralNode:
		return "a block of text"
	}
	return n.Type().String()
}

// field is one key of a mapping with its value.
type field struct {
	key    string
	keyPos Pos
	value  ast.Node // resolved; nil if unresolvable
	bad    bool     // the value could not be resolved (reported)
}

// obj is a mapping being decoded. Every key the code asks for becomes a
// valid key, so the schema is the code; done reports the others.
type obj struct {
	d      *decoder
	path   string
	pos    Pos // where the mapping is, for missing keys
	fields []field
	index  map[string]int
	known  []string
	hints  map[string]string // unknown key → advice
	used   map[string]bool
	// extensions says keys starting with "x-" are the user's own (to hold
	// anchors), as in Docker Compose files.
	extensions bool
}

// keyPath joins a path and a key.
func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object starts decoding n as a mapping at path. A null or absent node is
// an empty mapping; anything else that is not a mapping is reported and
// gives nil (whose methods do nothing).
func (d *decoder) object(path string, at Pos, n ast.Node) *obj {
	o := &obj{d: d, path: path, pos: at, index: map[string]int{}, used: map[string]bool{}}
	if isNull(n) {
		return o
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		if mv, single := n.(*ast.MappingValueNode); single {
			m = ast.Mapping(mv.GetToken(), false, mv)
		} else {
			d.errorf(d.nodePos(n), path, "expected a mapping of keys to values, got %s", describe(n))
			return nil
		}
	}
	o.pos = d.nodePos(m)
	o.addFields(m, false)
	return o
}

// addFields adds a mapping's keys; merged ones (from <<) never replace or
// duplicate keys already present.
func (o *obj) addFields(m *ast.MappingNode, merged bool) {
	d := o.d
	var merges []ast.Node
	for _, mv := range m.Values {
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			merges = append(merges, mv.Value)
			continue
		}
		kp := d.nodePos(mv.Key)
		kn := d.resolve(o.path, mv.Key)
		var key string
		switch k := kn.(type) {
		case *ast.StringNode:
			key = k.Value
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
			key = k.GetToken().Value
		case nil:
			continue
		default:
			d.errorf(kp, o.path, "a key must be a plain word, not %s", describe(kn))
			continue
		}
		if i, dup := o.index[key]; dup {
			if !merged {
				d.errorf(kp, keyPath(o.path, key), "duplicate key (first at %s)", o.fields[i].keyPos.short())
			}
			continue
		}
		o.index[key] = len(o.fields)
		v := d.resolve(keyPath(o.path, key), mv.Value)
		o.fields = append(o.fields, field{key: key, keyPos: kp, value: v, bad: v == nil && mv.Value != nil && !isNull(mv.Value)})
	}
	for _, mn := range merges {
		o.merge(d.resolve(o.path, mn))
	}
}

// merge applies a << merge key's value: a mapping or a list of mappings.
func (o *obj) merge(n ast.Node) {
	switch v := n.(type) {
	case *ast.MappingNode:
		o.addFields(v, true)
	case *ast.SequenceNode:
		for _, item := range v.Values {
			if m, ok := o.d.resolve(o.path, item).(*ast.MappingNode); ok {
				o.addFields(m, true)
			} else {
				o.d.errorf(o.d.nodePos(item), o.path, "<< merges mappings, got %s", describe(item))
			}
		}
	case nil:
	default:
		o.d.errorf(o.d.nodePos(n), o.path, "<< merges a mapping or a list of mappings, got %s", describe(n))
	}
}

// declare makes key valid in o.
func (o *obj) declare(key string) {
	o.known = append(o.known, key)
	if o.d.keys != nil {
		o.d.keys[key] = true
	}
}

// hint gives advice for a key that is not valid here.
func (o *obj) hint(key, advice string) {
	if o == nil {
		return
	}
	if o.hints == nil {
		o.hints = map[string]string{}
	}
	o.hints[key] = advice
}

// get declares key valid and returns its value and place. A null value
// counts as absent.
func (o *obj) get(key string) (ast.Node, Pos, bool) {
	if o == nil {
		return nil, Pos{}, false
	}
	o.declare(key)
	i, ok := o.index[key]
	if !ok {
		return nil, Pos{}, false
	}
	o.used[key] = true
	f := o.fields[i]
	if f.bad {
		return nil, f.keyPos, false
	}
	if isNull(f.value) {
		return nil, f.keyPos, false
	}
	return f.value, o.d.nodePos(f.value), true
}

// has reports whether key is present with a value (without declaring it).
func (o *obj) has(key string) bool {
	if o == nil {
		return false
	}
	i, ok := o.index[key]
	return ok && (o.fields[i].bad || !isNull(o.fields[i].value))
}

// keyPos returns the place of a present key.
func (o *obj) keyPos(key string) Pos {
	if o == nil {
		return Pos{}
	}
	if i, ok := o.index[key]; ok {
		return o.fields[i].keyPos
	}
	return o.pos
}

// at returns the path of a key.
func (o *obj) at(key string) string { return keyPath(o.path, key) }

// errorf reports a problem with key's value.
func (o *obj) errorf(key string, p Pos, format string, args ...any) {
	o.d.errorf(p, o.at(key), format, args...)
}

// missing reports a required key that is absent.
func (o *obj) missing(key, what string) {
	if o == nil {
		return
	}
	if i, ok := o.index[key]; ok {
		o.d.errorf(o.fields[i].keyPos, o.at(key), "missing value: %s", what)
		return
	}
	o.d.errorf(o.pos, o.path, "missing required key %q: %s", key, what)
}

// done reports every key that was not asked for, with the nearest valid
// one and the list of valid keys.
func (o *obj) done() {
	if o == nil {
		return
	}
	for _, f := range o.fields {
		if o.used[f.key] || contains(o.known, f.key) || o.extensions && strings.HasPrefix(f.key, "x-") {
			continue
		}
		if h, ok := o.hints[f.key]; ok {
			o.d.errorf(f.keyPos, o.at(f.key), "%s", h)
			continue
		}
		msg := "unknown key"
		if s := nearest(f.key, o.known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		if len(o.known) == 0 {
			msg += "; no keys are valid here"
		} else {
			msg += "; valid keys: " + strings.Join(unique(o.known), ", ")
		}
		o.d.errorf(f.keyPos, o.at(f.key), "%s", msg)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func unique(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sub decodes key's value as a nested mapping; nil when absent or not a
// mapping (reported).
func (o *obj) sub(key string) *obj {
	n, p, ok := o.get(key)
	if !ok {
		return nil
	}
	return o.d.object(o.at(key), p, n)
}

// list returns key's value as a list of resolved items; a single value is
// not taken for a list of one.
func (o *obj) list(key string) ([]ast.Node, []Pos, bool) {
	n, p, ok := o.get(key)
	if !ok {
		return nil, nil, false
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		o.errorf(key, p, "expected a list, got %s", describe(n))
		return nil, nil, false
	}
	items := make([]ast.Node, len(seq.Values))
	pos := make([]Pos, len(seq.Values))
	for i, item := range seq.Values {
		pos[i] = o.d.nodePos(item)
		items[i] = o.d.resolve(fmt.Sprintf("%s[%d]", o.at(key), i), item)
	}
	return items, pos, true
}

// scalarText returns the text of a scalar as written (numbers and
// booleans too), and whether n is a scalar.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// quoted reports whether a scalar was written in quotes.
func quoted(n ast.Node) bool {
	tk := n.GetToken()
	return tk != nil && (tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType)
}

// str reads key as a string: any scalar, numbers and booleans as written.
func (o *obj) str(key string, dst *string) bool {
	n, p, ok := o.get(key)
	if !ok {
		return false
	}
	s, ok := o.d.text(o.at(key), p, n)
	if ok {
		*dst = s
	}
	return ok
}

// text reads a scalar as a string.
func (d *decoder) text(path string, p Pos, n ast.Node) (string, bool) {
	s, ok := scalarText(n)
	if !ok {
		d.errorf(p, path, "expected a text, got %s", describe(n))
	}
	return s, ok
}

// boolean reads key as true or false.
func (o *obj) boolean(key string, dst *bool) bool {
	n, p, ok := o.get(key)
	if !ok {
		return false
	}
	b, isBool := n.(*ast.BoolNode)
	if !isBool {
		hint := ""
		if s, _ := scalarText(n); s != "" {
			switch strings.ToLower(s) {
			case "true", "false":
				hint = " (in quotes, so a text)"
			case "yes", "on", "y", "no", "off", "n":
				hint = " (YAML 1.2 reads " + s + " as text)"
			}
		}
		o.errorf(key, p, "expected true or false, got %s%s", describe(n), hint)
		return false
	}
	*dst = b.Value
	return true
}

// number reads a scalar as a float64: integers, decimals, exponents.
func (d *decoder) number(path string, p Pos, n ast.Node) (float64, bool) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	case *ast.FloatNode:
		return v.Value, true
	case *ast.StringNode:
		// go-yaml leaves forms such as 1e3 as strings; take them unquoted.
		if !quoted(v) {
			if f, err := strconv.ParseFloat(v.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, true
			}
		}
	}
	d.errorf(p, path, "expected a number, got %s", describe(n))
	return 0, false
}

// float reads key as a number within [lo, hi].
func (o *obj) float(key string, dst *float64, lo, hi float64) bool {
	n, p, ok := o.get(key)
	if !ok {
		return false
	}
	f, ok := o.d.number(o.at(key), p, n)
	if !ok {
		return false
	}
	if f < lo || f > hi {
		o.errorf(key, p, "%v is out of range (%v to %v)", f, lo, hi)
		return false
	}
	*dst = f
	return true
}

// integer reads a scalar as a whole number (decimal, 0x hex, 0o octal,
// 0b binary; _ separators).
func (d *decoder) integer(path string, p Pos, n ast.Node) (int64, bool) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			return x, true
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), true
			}
		}
		d.errorf(p, path, "%s is too large", v.GetToken().Value)
		return 0, false
	case *ast.StringNode:
		if !quoted(v) {
			if i, err := strconv.ParseInt(v.Value, 0, 64); err == nil {
				return i, true
			}
		}
	case *ast.FloatNode:
		if v.Value == math.Trunc(v.Value) && math.Abs(v.Value) < 1<<53 {
			return int64(v.Value), true
		}
		d.errorf(p, path, "expected a whole number, got %s", v.GetToken().Value)
		return 0, false
	}
	d.errorf(p, path, "expected a whole number, got %s", describe(n))
	return 0, false
}

// integerKey reads key as a whole number within [lo, hi].
func (o *obj) integer(key string, dst *int, lo, hi int64) bool {
	n, p, ok := o.get(key)
	if !ok {
		return false
	}
	i, ok := o.d.integer(o.at(key), p, n)
	if !ok {
		return false
	}
	if i < lo || i > hi {
		o.errorf(key, p, "%d is out of range (%d to %d)", i, lo, hi)
		return false
	}
	*dst = int(i)
	return true
}

// duration reads a scalar as a Go duration.
func (d *decoder) duration(path string, p Pos, n ast.Node) (time.Duration, bool) {
	s, ok := scalarText(n)
	if _, isBool := n.(*ast.BoolNode); !ok || isBool {
		d.errorf(p, path, "expected a duration such as \"500ms\" or \"1m30s\", got %s", describe(n))
		return 0, false
	}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
			return 0, true
		}
		d.errorf(p, path, "%s has no unit: write a duration such as \"%ss\" or \"%sms\" (units h, m, s, ms, us, ns)", s, s, s)
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.errorf(p, path, "%q is not a duration: write it as a number and a unit without spaces, such as \"10s\", \"500ms\" or \"1m30s\" (units h, m, s, ms, us, ns)", s)
		return 0, false
	}
	return v, true
}

// duration reads key as a duration within [lo, hi]; hi 0 means no upper
// bound. Zero is allowed only when lo is 0.
func (o *obj) duration(key string, dst *time.Duration, lo, hi time.Duration) bool {
	n, p, ok := o.get(key)
	if !ok {
		return false
	}
	v, ok := o.d.duration(o.at(key), p, n)
	if !ok {
		return false
	}
	switch {
	case v < 0:
		o.errorf(key, p, "%v is negative", v)
		return false
	case v < lo && v == 0:
		o.errorf(key, p, "must not be 0 (at least %v)", lo)
		return false
	case v < lo:
		o.errorf(key, p, "%v is shorter than %v", v, lo)
		return false
	case hi > 0 && v > hi:
		o.errorf(key, p, "%v is longer than %v", v, hi)
		return false
	}
	*dst = v
	return true
}

// enum reads key as one of a set of words.
func (o *obj) enum(key string, dst *string, options ...string) bool {
	var s string
	if !o.str(key, &s) {
		return false
	}
	if !contains(options, s) {
		msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(options, ", "))
		if near := nearest(s, options); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		_, p, _ := o.get(key)
		o.errorf(key, p, "%s", msg)
		return false
	}
	*dst = s
	return true
}

// strings reads key as a list of texts.
func (o *obj) strings(key string, dst *[]string) bool {
	items, pos, ok := o.list(key)
	if !ok {
		return false
	}
	out := make([]string, 0, len(items))
	good := true
	for i, n := range items {
		path := fmt.Sprintf("%s[%d]", o.at(key), i)
		if isNull(n) {
			o.d.errorf(pos[i], path, "empty item")
			good = false
			continue
		}
		s, ok := o.d.text(path, pos[i], n)
		good = good && ok
		out = append(out, s)
	}
	if good {
		*dst = out
	}
	return good
}

// parseDocument parses data into its single document's body, turning a
// panic of the YAML library into an error.
func parseDocument(d *decoder, data []byte) (body ast.Node) {
	var file *ast.File
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the YAML parser failed: %v", r)
			}
		}()
		file, err = yamlparser.ParseBytes(data, 0, yamlparser.AllowDuplicateMapKey())
	}()
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var docs []*ast.DocumentNode
	for _, doc := range file.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		d.errorf(Pos{File: d.file, Line: 1, Col: 1}, "", "the file is empty: a configuration needs at least the devices list (see the example config)")
		return nil
	}
	if len(docs) > 1 {
		d.errorf(d.nodePos(docs[1].Body), "", "a second YAML document: the configuration is one document (remove the ---)")
		return nil
	}
	return docs[0].Body
}

// syntaxError records a parser error at its place, without the source
// excerpt go-yaml prints.
func (d *decoder) syntaxError(err error) {
	type tokenError interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if te, ok := err.(tokenError); ok {
		d.errorf(d.pos(te.GetToken()), "", "YAML syntax: %s", te.GetMessage())
		return
	}
	d.errorf(Pos{File: d.file}, "", "YAML syntax: %v", err)
}

// present declares key valid and reports whether it is in the mapping,
// even with an empty value.
func (o *obj) present(key string) bool {
	if o == nil {
		return false
	}
	o.declare(key)
	_, ok := o.index[key]
	if ok {
		o.used[key] = true
	}
	return ok
}

// each calls fn with every key of the mapping, in order, and marks them
// all valid; keys whose value could not be resolved (already reported) are
// skipped.
func (o *obj) each(fn func(key string, keyPos Pos, value ast.Node)) {
	if o == nil {
		return
	}
	for _, f := range o.fields {
		o.used[f.key] = true
		if !f.bad {
			fn(f.key, f.keyPos, f.value)
		}
	}
}
