// Package loopvet is a static analyzer for the mistakes cooperative
// scheduling invites, on golang.org/x/tools/go/analysis. It reports:
//
//   - blocking the loop: a call or channel operation that blocks the thread
//     (time.Sleep, a mutex, a bare channel receive, network or serial I/O …)
//     in code that runs on the loop — a function with a *loop.Task
//     parameter, or a function literal given to Loop.Post, Inlet.TryPost,
//     CallSoon or CallLater;
//   - ignored cancellation: the error of an await (a call taking a
//     *loop.Task, or an await method of *loop.Task) dropped, so a cancelled
//     task carries on;
//   - a task handle escaping: a *loop.Task captured by or passed to a
//     goroutine, sent on a channel or kept in a package-level variable;
//   - loop state touched from a foreign goroutine: a primitives method or
//     a loop method other than Post, TryPost, Run and the few documented as
//     safe,
//     called in a go statement, a function started by WaitGroup.Go or
//     errgroup's Go, a loop.Offload function, a time.AfterFunc or
//     context.AfterFunc callback, or an MQTT (paho) callback — except
//     inside the function handed to Post or TryPost, which runs on the loop.
//
// A comment //loopvet:ok <reason> on the line of a finding, or on the line
// before, suppresses it; one without a reason is reported itself.
//
// The analysis is syntactic and local to each function: it does not follow
// calls into other functions, so a helper that blocks is not seen through
// its caller. Types are recognised by package path and name, never by how
// a file spells them. The package must not import any package of this
// module: it analyses them.
package loopvet

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Package paths of the types the checks are about.
const (
	loopPath       = "github.com/edgeagent/edgeagent/loop"
	primitivesPath = "github.com/edgeagent/edgeagent/primitives"
	pahoPath       = "github.com/eclipse/paho.mqtt.golang"
)

// Analyzer reports blocking calls on the loop, dropped await errors, task
// handles escaping to other goroutines, and loop state used from them.
var Analyzer = &analysis.Analyzer{
	Name: "loopvet",
	Doc: `report cooperative-scheduling mistakes in code using the edgeagent loop

loopvet reports four kinds of mistakes:

  - blocking the loop: time.Sleep, sync locks and waits, bare channel
    operations, select without default, network, file, serial and HTTP I/O
    in code that runs on the loop (functions with a *loop.Task parameter and
    callbacks given to Loop.Post, Inlet.TryPost, CallSoon, CallLater);
  - ignored cancellation: an await's error discarded (expression statement
    or assignment to _);
  - task handle escaping: a *loop.Task used by a goroutine, sent on a
    channel or stored in a package-level variable;
  - loop state used from a foreign goroutine: primitives methods and loop
    methods other than Post and TryPost (and Run, which makes its goroutine
    the loop's)
    called from a go statement, a WaitGroup/errgroup Go function, a
    loop.Offload function, a time/context AfterFunc callback or an MQTT
    callback.

Suppress a finding with a comment "//loopvet:ok <reason>" on its line or the
line before.`,
	Run: run,
}

// Diagnostic categories, one per check.
const (
	catBlocking  = "blocking"
	catCancel    = "cancellation"
	catEscape    = "escape"
	catForeign   = "foreign-goroutine"
	catDirective = "directive"
)

// kind says where a function body runs.
type kind uint8

const (
	neutral kind = iota // not known to run on the loop or off it
	onLoop              // runs on the loop goroutine
	foreign             // runs on a goroutine of its own
)

// scope is the context a piece of code is analysed in.
type scope struct {
	kind kind
	// where names the context in messages: "a task function",
	// "a go statement" …
	where string
	// fn is the function literal that runs on a foreign goroutine;
	// variables declared outside it are captured by it. Nil for the
	// arguments of a go statement's call.
	fn *ast.FuncLit
}

type checker struct {
	pass  *analysis.Pass
	diags []analysis.Diagnostic
	// skip holds identifiers already reported by a more specific finding.
	skip map[*ast.Ident]bool
}

func run(pass *analysis.Pass) (any, error) {
	c := &checker{pass: pass, skip: map[*ast.Ident]bool{}}
	if usesLoop(pass.Pkg) {
		for _, f := range pass.Files {
			c.file(f)
		}
	}
	c.flush()
	return nil, nil
}

// usesLoop reports whether pkg is the loop package or depends on it: only
// then can it hold a *loop.Task or a *loop.Loop.
func usesLoop(pkg *types.Package) bool {
	seen := map[*types.Package]bool{}
	var visit func(p *types.Package) bool
	visit = func(p *types.Package) bool {
		if p.Path() == loopPath {
			return true
		}
		if seen[p] {
			return false
		}
		seen[p] = true
		for _, q := range p.Imports() {
			if visit(q) {
				return true
			}
		}
		return false
	}
	return visit(pkg)
}

func (c *checker) report(pos token.Pos, category, msg string) {
	c.diags = append(c.diags, analysis.Diagnostic{Pos: pos, Category: category, Message: msg})
}

func (c *checker) file(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body == nil {
				continue
			}
			s := scope{kind: neutral}
			if c.hasTaskParam(d.Type) {
				s = scope{kind: onLoop, where: "a function with a *loop.Task parameter"}
			}
			c.walk(d.Body, s)
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				c.packageVars(d)
			}
			c.walk(d, scope{kind: neutral})
		}
	}
}

// walk analyses n in scope s.
func (c *checker) walk(n ast.Node, s scope) {
	if n == nil {
		return
	}
	ast.Inspect(n, func(n ast.Node) bool { return c.visit(n, s) })
}

func (c *checker) visit(n ast.Node, s scope) bool {
	switch n := n.(type) {
	case *ast.FuncLit:
		// A literal merely defined here (not called, not handed to an API
		// whose goroutine we know) is a context of its own.
		c.walkFunc(n, c.ownScope(n))
		return false
	case *ast.GoStmt:
		c.goStmt(n, s)
		return false
	case *ast.CallExpr:
		return c.call(n, s)
	case *ast.SelectStmt:
		if s.kind == onLoop {
			c.selectStmt(n, s)
			return false
		}
	case *ast.SendStmt:
		c.sendTask(n)
		if s.kind == onLoop {
			c.report(n.Arrow, catBlocking, "channel send blocks the loop in "+s.where+
				"; use a primitives.Queue, or select with a default case")
		}
	case *ast.UnaryExpr:
		if n.Op == token.ARROW && s.kind == onLoop {
			c.report(n.OpPos, catBlocking, "channel receive blocks the loop in "+s.where+
				"; use a primitives.Queue or Event fed through Loop.Post, or select with a default case")
		}
	case *ast.RangeStmt:
		if s.kind == onLoop && isChan(c.pass.TypesInfo.TypeOf(n.X)) {
			c.report(n.For, catBlocking, "range over a channel blocks the loop in "+s.where+
				"; use a primitives.Queue fed through Loop.Post")
		}
	case *ast.ExprStmt:
		if call, ok := ast.Unparen(n.X).(*ast.CallExpr); ok {
			if name, ok := c.await(call); ok {
				c.report(call.Pos(), catCancel, "error of await "+name+" is dropped, so a cancelled task "+
					"carries on; check it and return it (if err := …; err != nil { return err })")
			}
		}
	case *ast.AssignStmt:
		c.dropped(n.Lhs, n.Rhs)
		c.storeTask(n)
	case *ast.ValueSpec:
		lhs := make([]ast.Expr, len(n.Names))
		for i, id := range n.Names {
			lhs[i] = id
		}
		c.dropped(lhs, n.Values)
	case *ast.Ident:
		if s.kind == foreign {
			c.capturedTask(n, n, s)
		}
	case *ast.SelectorExpr:
		if s.kind == foreign {
			// A task kept in a field of a captured variable: s.task.
			if sel, ok := c.pass.TypesInfo.Selections[n]; ok && sel.Kind() == types.FieldVal &&
				containsTask(sel.Type()) {
				if root := c.rootIdent(n); root != nil && c.capturedTask(n, root, s) {
					return false
				}
			}
		}
	}
	return true
}

// walkFunc analyses the body of lit in scope s.
func (c *checker) walkFunc(lit *ast.FuncLit, s scope) {
	if s.kind == foreign && s.fn == nil {
		s.fn = lit
	}
	c.walk(lit.Body, s)
}

// ownScope is the context of a function literal that is only defined.
func (c *checker) ownScope(lit *ast.FuncLit) scope {
	if c.hasTaskParam(lit.Type) {
		return scope{kind: onLoop, where: "a function with a *loop.Task parameter"}
	}
	return scope{kind: neutral}
}

// call analyses a call in scope s. It returns whether Inspect should go on
// into the call's children (false when call has walked them itself).
func (c *checker) call(call *ast.CallExpr, s scope) bool {
	fn, _ := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func)
	switch s.kind {
	case onLoop:
		if fn != nil {
			if hint, ok := c.blocking(fn, call); ok {
				c.report(call.Pos(), catBlocking, c.callName(call, fn)+" blocks the loop in "+s.where+"; "+hint)
			}
		}
	case foreign:
		if fn != nil && loopStateOp(fn) {
			c.reportForeign(call, fn, s)
		}
	}
	if lit, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok {
		// Called right here: it runs where its caller runs.
		is := s
		if c.hasTaskParam(lit.Type) {
			is = scope{kind: onLoop, where: "a function with a *loop.Task parameter"}
		}
		c.walkFunc(lit, is)
		for _, a := range call.Args {
			c.walk(a, s)
		}
		return false
	}
	if fn == nil && !c.hasPahoParam(call) {
		return true
	}
	c.walk(call.Fun, s)
	c.args(call, fn, s, false)
	return false
}

// args walks the arguments of call, giving function literals the context
// their callee runs them in. inGo is set for the call of a go statement,
// whose callee runs on a new goroutine.
func (c *checker) args(call *ast.CallExpr, fn *types.Func, s scope, inGo bool) {
	isPost := isPostCall(fn)
	for i, a := range call.Args {
		lit, isLit := ast.Unparen(a).(*ast.FuncLit)
		if !isLit {
			// What goes to Post runs on the loop: a method value such as
			// t.Cancel handed over from a goroutine is the right way.
			if isPost && (s.kind == foreign || inGo) {
				continue
			}
			c.walk(a, s)
			continue
		}
		if ls, ok := c.litScope(call, fn, i); ok {
			c.walkFunc(lit, ls)
		} else {
			c.walkFunc(lit, c.ownScope(lit))
		}
	}
}

// litScope reports the context the i'th argument of call runs in when it
// is a function literal, if the callee is one that decides it.
func (c *checker) litScope(call *ast.CallExpr, fn *types.Func, i int) (scope, bool) {
	if fn != nil {
		switch {
		case isPostCall(fn):
			return scope{kind: onLoop, where: "a function posted to the loop"}, true
		case isMethod(fn, loopPath, "Loop", "CallSoon"), isMethod(fn, loopPath, "Loop", "CallLater"):
			return scope{kind: onLoop, where: "a " + fn.Name() + " callback"}, true
		case isFunc(fn, loopPath, "Offload"):
			return scope{kind: foreign, where: "a loop.Offload function, which runs on a goroutine of its own"}, true
		case isMethod(fn, "sync", "WaitGroup", "Go"), isMethod(fn, "golang.org/x/sync/errgroup", "Group", "Go"),
			isMethod(fn, "golang.org/x/sync/errgroup", "Group", "TryGo"):
			return scope{kind: foreign, where: "a function started by " + displayName(fn) + ", which runs on a goroutine of its own"}, true
		case isFunc(fn, "time", "AfterFunc"), isFunc(fn, "context", "AfterFunc"):
			return scope{kind: foreign, where: "a " + fn.Pkg().Name() + ".AfterFunc callback, which runs on a goroutine of its own"}, true
		}
	}
	if c.pahoParam(call, i) {
		return scope{kind: foreign, where: "an MQTT callback, which paho runs on its own goroutine"}, true
	}
	return scope{}, false
}

// goStmt analyses a go statement found in scope s: the function runs on a
// new goroutine, its arguments are evaluated here.
func (c *checker) goStmt(g *ast.GoStmt, s scope) {
	call := g.Call
	const where = "a go statement, which runs on a goroutine of its own"
	if lit, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok {
		c.walkFunc(lit, scope{kind: foreign, where: where, fn: lit})
		for _, a := range call.Args {
			c.taskArg(a)
			c.walk(a, s)
		}
		return
	}
	fn, _ := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func)
	gs := scope{kind: foreign, where: where}
	if fn != nil && loopStateOp(fn) {
		c.reportForeign(call, fn, gs)
	} else if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && c.isMethodCall(sel) {
		c.taskArg(sel.X)
	}
	isPost := isPostCall(fn)
	if !isPost {
		for _, a := range call.Args {
			c.taskArg(a)
		}
	}
	c.walk(call.Fun, s)
	c.args(call, fn, s, true)
}

// taskArg reports a task handle handed to a goroutine as an argument or
// receiver of a go statement's call.
func (c *checker) taskArg(a ast.Expr) {
	if containsTask(c.pass.TypesInfo.TypeOf(a)) {
		c.report(a.Pos(), catEscape, "task handle "+types.ExprString(a)+" is passed to a goroutine, "+
			"where awaits panic and Cancel races with the loop: pass the *loop.Loop instead and "+
			"use the task inside l.Post(func() { … })")
	}
}

// capturedTask reports e, a task handle, if it is used inside a foreign
// function but reached through root, a variable declared outside it.
func (c *checker) capturedTask(e ast.Expr, root *ast.Ident, s scope) bool {
	if c.skip[root] || s.fn == nil {
		return false
	}
	v, ok := c.pass.TypesInfo.Uses[root].(*types.Var)
	if !ok || v.IsField() || (e == root && !containsTask(v.Type())) {
		return false
	}
	if v.Pos() >= s.fn.Pos() && v.Pos() < s.fn.End() {
		return false // its own variable, such as a parameter
	}
	c.report(e.Pos(), catEscape, "task handle "+types.ExprString(e)+" is used in "+s.where+
		"; awaits there panic and Cancel races with the loop: use the task inside "+
		"l.Post(func() { … }), and pass the goroutine only what it needs (the *loop.Loop, the name)")
	return true
}

// rootIdent returns the variable a selector, index or dereference chain
// starts from, or nil.
func (c *checker) rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// reportForeign reports a loop-state operation fn called from a foreign
// goroutine.
func (c *checker) reportForeign(call *ast.CallExpr, fn *types.Func, s scope) {
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		if id, ok := ast.Unparen(sel.X).(*ast.Ident); ok {
			c.skip[id] = true
		}
	}
	c.report(call.Pos(), catForeign, c.callName(call, fn)+" touches loop state from "+s.where+
		"; only Loop.Post and Inlet.TryPost are safe there: wrap the call in l.Post(func() { … })")
}

// callName names the function a call calls, for messages. A method
// declared on an unexported type (net's conn, behind TCPConn) is named by
// the type it is called through.
func (c *checker) callName(call *ast.CallExpr, fn *types.Func) string {
	if recv := recvName(fn); recv != "" && !ast.IsExported(recv) {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
			if s, ok := c.pass.TypesInfo.Selections[sel]; ok && s.Kind() == types.MethodVal {
				t := types.TypeString(s.Recv(), func(p *types.Package) string { return p.Name() })
				if strings.HasPrefix(t, "*") {
					t = "(" + t + ")"
				}
				return t + "." + fn.Name()
			}
		}
	}
	return displayName(fn)
}

// isMethodCall reports whether sel selects a method through a value (not
// a method expression or a package-qualified name).
func (c *checker) isMethodCall(sel *ast.SelectorExpr) bool {
	s, ok := c.pass.TypesInfo.Selections[sel]
	return ok && s.Kind() == types.MethodVal
}

// selectStmt analyses a select on the loop: without a default case it
// blocks; its communications are not blocking operations of their own.
func (c *checker) selectStmt(sel *ast.SelectStmt, s scope) {
	hasDefault := false
	for _, cl := range sel.Body.List {
		if cl.(*ast.CommClause).Comm == nil {
			hasDefault = true
		}
	}
	if !hasDefault {
		c.report(sel.Select, catBlocking, "select without a default case blocks the loop in "+s.where+
			"; add a default case, or wait on a primitive (Event, Queue) instead of channels")
	}
	for _, cl := range sel.Body.List {
		cc := cl.(*ast.CommClause)
		switch comm := cc.Comm.(type) {
		case *ast.SendStmt:
			c.sendTask(comm)
			c.walk(comm.Chan, s)
			c.walk(comm.Value, s)
		case *ast.ExprStmt:
			c.walkRecv(comm.X, s)
		case *ast.AssignStmt:
			for _, l := range comm.Lhs {
				c.walk(l, s)
			}
			for _, r := range comm.Rhs {
				c.walkRecv(r, s)
			}
		}
		for _, st := range cc.Body {
			c.walk(st, s)
		}
	}
}

// walkRecv walks the operand of a select case's receive.
func (c *checker) walkRecv(e ast.Expr, s scope) {
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.ARROW {
		c.walk(u.X, s)
		return
	}
	c.walk(e, s)
}

// sendTask reports a task handle sent on a channel.
func (c *checker) sendTask(send *ast.SendStmt) {
	if containsTask(c.pass.TypesInfo.TypeOf(send.Value)) {
		c.report(send.Value.Pos(), catEscape, "task handle "+types.ExprString(send.Value)+
			" is sent on a channel, so another goroutine may use it; "+
			"keep *loop.Task values within the loop (a Group looks children up by name)")
	}
}

// storeTask reports a task handle stored in a package-level variable that
// is not itself declared as holding tasks (those are reported where they
// are declared).
func (c *checker) storeTask(as *ast.AssignStmt) {
	for i, l := range as.Lhs {
		v := c.packageVar(l)
		if v == nil || containsTask(v.Type()) {
			continue
		}
		var t types.Type
		switch {
		case len(as.Lhs) == len(as.Rhs):
			t = c.pass.TypesInfo.TypeOf(as.Rhs[i])
		case len(as.Rhs) == 1:
			if tup, ok := c.pass.TypesInfo.TypeOf(as.Rhs[0]).(*types.Tuple); ok && i < tup.Len() {
				t = tup.At(i).Type()
			}
		}
		if containsTask(t) {
			c.report(l.Pos(), catEscape, "task handle stored in package-level variable "+v.Name()+
				", where any goroutine can reach it; keep it in the task or the struct that owns it")
		}
	}
}

// packageVars reports package-level variables that hold task handles.
func (c *checker) packageVars(d *ast.GenDecl) {
	for _, sp := range d.Specs {
		for _, id := range sp.(*ast.ValueSpec).Names {
			v, ok := c.pass.TypesInfo.Defs[id].(*types.Var)
			if ok && v.Parent() == c.pass.Pkg.Scope() && containsTask(v.Type()) {
				c.report(id.Pos(), catEscape, "package-level variable "+id.Name+" holds task handles, "+
					"which any goroutine can reach; keep them in the task or the struct that owns them")
			}
		}
	}
}

// packageVar returns the package-level variable an assignment target is
// rooted in (v, v[i], v.f, *v), or nil.
func (c *checker) packageVar(e ast.Expr) *types.Var {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.SelectorExpr:
			if _, isPkg := c.pass.TypesInfo.Uses[identOf(x.X)].(*types.PkgName); isPkg {
				e = x.Sel // pkg.Var
				continue
			}
			e = x.X
		case *ast.Ident:
			v, ok := c.pass.TypesInfo.Uses[x].(*types.Var)
			if ok && !v.IsField() && v.Pkg() != nil && v.Parent() == v.Pkg().Scope() {
				return v
			}
			return nil
		default:
			return nil
		}
	}
}

func identOf(e ast.Expr) *ast.Ident {
	id, _ := ast.Unparen(e).(*ast.Ident)
	return id
}

// dropped reports awaits among rhs whose error result is assigned to _.
func (c *checker) dropped(lhs, rhs []ast.Expr) {
	check := func(call *ast.CallExpr, target ast.Expr) {
		if id, ok := target.(*ast.Ident); !ok || id.Name != "_" {
			return
		}
		if name, ok := c.await(call); ok {
			c.report(call.Pos(), catCancel, "error of await "+name+" is assigned to _, so a cancelled task "+
				"carries on; check it and return it (if err != nil { return err })")
		}
	}
	switch {
	case len(rhs) == 1 && len(lhs) >= 1:
		if call, ok := ast.Unparen(rhs[0]).(*ast.CallExpr); ok {
			check(call, lhs[len(lhs)-1])
		}
	case len(lhs) == len(rhs):
		for i, r := range rhs {
			if call, ok := ast.Unparen(r).(*ast.CallExpr); ok {
				check(call, lhs[i])
			}
		}
	}
}

// await reports whether call is an await — a call taking a *loop.Task, or
// an await method of *loop.Task — whose last result is an error, and
// names it.
func (c *checker) await(call *ast.CallExpr) (string, bool) {
	tv, ok := c.pass.TypesInfo.Types[call.Fun]
	if !ok || tv.IsType() || tv.IsBuiltin() {
		return "", false
	}
	sig, ok := tv.Type.Underlying().(*types.Signature)
	if !ok {
		return "", false
	}
	res := sig.Results()
	if res.Len() == 0 || !isError(res.At(res.Len()-1).Type()) {
		return "", false
	}
	name := types.ExprString(call.Fun)
	if fn, ok := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func); ok &&
		isMethod(fn, loopPath, "Task", "") && fn.Exported() && fn.Name() != "Err" {
		return name, true // t.Sleep, t.Yield, t.Wait …; Err only reads the result
	}
	params := sig.Params()
	for i := 0; i < params.Len(); i++ {
		t := params.At(i).Type()
		if sig.Variadic() && i == params.Len()-1 {
			if sl, ok := t.(*types.Slice); ok {
				t = sl.Elem()
			}
		}
		if isTask(t) {
			return name, true
		}
	}
	return "", false
}

// hasTaskParam reports whether a function type has a *loop.Task parameter.
func (c *checker) hasTaskParam(ft *ast.FuncType) bool {
	if ft.Params == nil {
		return false
	}
	for _, f := range ft.Params.List {
		if isTask(c.pass.TypesInfo.TypeOf(f.Type)) {
			return true
		}
	}
	return false
}

// pahoParam reports whether the i'th parameter of call's function is a
// paho callback type (MessageHandler, OnConnectHandler …).
func (c *checker) pahoParam(call *ast.CallExpr, i int) bool {
	sig, ok := c.pass.TypesInfo.TypeOf(call.Fun).(*types.Signature)
	if !ok || sig.Params().Len() == 0 {
		return false
	}
	n := sig.Params().Len()
	var t types.Type
	switch {
	case sig.Variadic() && i >= n-1:
		sl, ok := sig.Params().At(n - 1).Type().(*types.Slice)
		if !ok {
			return false
		}
		t = sl.Elem()
	case i < n:
		t = sig.Params().At(i).Type()
	default:
		return false
	}
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Path() != pahoPath {
		return false
	}
	_, isFunc := named.Underlying().(*types.Signature)
	return isFunc
}

// hasPahoParam reports whether any function-literal argument of call goes
// to a paho callback parameter.
func (c *checker) hasPahoParam(call *ast.CallExpr) bool {
	for i, a := range call.Args {
		if _, ok := ast.Unparen(a).(*ast.FuncLit); ok && c.pahoParam(call, i) {
			return true
		}
	}
	return false
}

// flush drops suppressed findings, reports directives without a reason,
// and hands the rest to the pass.
func (c *checker) flush() {
	type key struct {
		file *token.File
		line int
	}
	ok := map[key]bool{}
	for _, f := range c.pass.Files {
		for _, cg := range f.Comments {
			for _, cm := range cg.List {
				reason, isDirective := directive(cm.Text)
				if !isDirective {
					continue
				}
				if reason == "" {
					c.report(cm.Pos(), catDirective, "//loopvet:ok needs a reason after it "+
						"(//loopvet:ok <why this is safe>); without one it suppresses nothing")
					continue
				}
				tf := c.pass.Fset.File(cm.Pos())
				ok[key{tf, tf.Line(cm.Pos())}] = true
			}
		}
	}
	// One finding per position and check; where a task handle's use is
	// also a loop-state call (s.task.Cancel()), the call says more.
	type at struct {
		pos token.Pos
		cat string
	}
	seen := map[at]bool{}
	for _, d := range c.diags {
		if d.Category == catForeign {
			seen[at{d.Pos, catEscape}] = true
		}
	}
	for _, d := range c.diags {
		if seen[at{d.Pos, d.Category}] {
			continue
		}
		seen[at{d.Pos, d.Category}] = true
		if d.Category != catDirective {
			tf := c.pass.Fset.File(d.Pos)
			line := tf.Line(d.Pos)
			if ok[key{tf, line}] || ok[key{tf, line - 1}] {
				continue
			}
		}
		c.pass.Report(d)
	}
}

// directive parses a //loopvet:ok comment and returns its reason.
func directive(text string) (reason string, ok bool) {
	rest, found := strings.CutPrefix(text, "//loopvet:ok")
	if !found {
		return "", false
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false // //loopvet:okay is something else
	}
	return strings.TrimSpace(rest), true
}
