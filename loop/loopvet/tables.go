package loopvet

import (
	"go/ast"
	"go/types"
	"strings"
)

// Hints for blocking calls, by what to do instead.
const (
	hintSleep   = "use t.Sleep(d), which lets the other tasks run meanwhile"
	hintLock    = "loop code needs no mutex (primitives.Lock holds one across awaits); share state with goroutines through Loop.Post"
	hintWait    = "wait on a primitive (Event, Barrier, Queue) fed through Loop.Post, or run the wait in loop.Offload"
	hintEdge    = "wait for edges on a goroutine of its own, which hands each one to the loop with Loop.Post"
	hintOffload = "run it in loop.Offload(t, func(ctx context.Context) (T, error) { … }), which awaits it off the loop"
)

// blockingCalls maps a function or method key (see funcKey) to the hint of
// what to do instead. Families too large to list (net's Read*/Write*,
// Dial*, Lookup*; periph's WaitForEdge on every pin type) are matched in
// blocking.
var blockingCalls = map[string]string{
	"time.Sleep": hintSleep,

	"sync.Mutex.Lock":     hintLock,
	"sync.RWMutex.Lock":   hintLock,
	"sync.RWMutex.RLock":  hintLock,
	"sync.Locker.Lock":    hintLock,
	"sync.WaitGroup.Wait": hintWait,
	"sync.Cond.Wait":      hintWait,

	"golang.org/x/sync/errgroup.Group.Wait":        hintWait,
	"golang.org/x/sync/semaphore.Weighted.Acquire": hintWait,

	"os.File.Read":         hintOffload,
	"os.File.ReadAt":       hintOffload,
	"os.File.ReadFrom":     hintOffload,
	"os.File.ReadDir":      hintOffload,
	"os.File.Readdir":      hintOffload,
	"os.File.Readdirnames": hintOffload,
	"os.File.Write":        hintOffload,
	"os.File.WriteAt":      hintOffload,
	"os.File.WriteString":  hintOffload,
	"os.File.WriteTo":      hintOffload,
	"os.File.Sync":         hintOffload,
	"os.ReadFile":          hintOffload,
	"os.WriteFile":         hintOffload,

	"os/exec.Cmd.Run":            hintOffload,
	"os/exec.Cmd.Wait":           hintOffload,
	"os/exec.Cmd.Output":         hintOffload,
	"os/exec.Cmd.CombinedOutput": hintOffload,

	"crypto/tls.Conn.Read":             hintOffload,
	"crypto/tls.Conn.Write":            hintOffload,
	"crypto/tls.Conn.Handshake":        hintOffload,
	"crypto/tls.Conn.HandshakeContext": hintOffload,
	"crypto/tls.Dial":                  hintOffload,
	"crypto/tls.DialWithDialer":        hintOffload,
	"crypto/tls.Dialer.Dial":           hintOffload,
	"crypto/tls.Dialer.DialContext":    hintOffload,

	"go.bug.st/serial.Port.Read":  hintOffload,
	"go.bug.st/serial.Port.Write": hintOffload,
	"go.bug.st/serial.Port.Drain": hintOffload,

	"net/http.Get":                      hintOffload,
	"net/http.Head":                     hintOffload,
	"net/http.Post":                     hintOffload,
	"net/http.PostForm":                 hintOffload,
	"net/http.ListenAndServe":           hintOffload,
	"net/http.ListenAndServeTLS":        hintOffload,
	"net/http.Serve":                    hintOffload,
	"net/http.ServeTLS":                 hintOffload,
	"net/http.Client.Do":                hintOffload,
	"net/http.Client.Get":               hintOffload,
	"net/http.Client.Head":              hintOffload,
	"net/http.Client.Post":              hintOffload,
	"net/http.Client.PostForm":          hintOffload,
	"net/http.Transport.RoundTrip":      hintOffload,
	"net/http.Server.ListenAndServe":    hintOffload,
	"net/http.Server.ListenAndServeTLS": hintOffload,
	"net/http.Server.Serve":             hintOffload,
	"net/http.Server.ServeTLS":          hintOffload,
	"net/http.Server.Shutdown":          hintOffload,

	// paho's tokens complete on its goroutines: waiting for one on the
	// loop stalls every task until the broker answers.
	pahoPath + ".Token.Wait":            hintWait,
	pahoPath + ".Token.WaitTimeout":     hintWait,
	pahoPath + ".baseToken.Wait":        hintWait,
	pahoPath + ".baseToken.WaitTimeout": hintWait,
}

// ioHelpers are the io functions that block when handed a blocking
// reader or writer (see blockingIOType).
var ioHelpers = map[string]bool{
	"io.ReadFull": true, "io.ReadAtLeast": true, "io.ReadAll": true,
	"io.Copy": true, "io.CopyN": true, "io.CopyBuffer": true, "io.WriteString": true,
}

// blocking reports whether a call of fn blocks the thread, and what to do
// instead.
func (c *checker) blocking(fn *types.Func, call *ast.CallExpr) (string, bool) {
	if fn.Pkg() == nil {
		return "", false
	}
	key := funcKey(fn)
	if hint, ok := blockingCalls[key]; ok {
		return hint, true
	}
	recv := recvName(fn)
	name := fn.Name()
	if recv != "" && name == "WaitForEdge" && strings.HasPrefix(fn.Pkg().Path(), "periph.io/x/") {
		// gpio.PinIn and every pin type: the wait lasts until the next
		// press of a button.
		return hintEdge, true
	}
	switch fn.Pkg().Path() {
	case "net":
		switch {
		case recv != "" && (strings.HasPrefix(name, "Read") || strings.HasPrefix(name, "Write") ||
			strings.HasPrefix(name, "Accept")):
			return hintOffload, true // Conn, TCPConn, UDPConn, Listener …
		case (recv == "" || recv == "Dialer") && strings.HasPrefix(name, "Dial"):
			return hintOffload, true
		case (recv == "" || recv == "Resolver") && strings.HasPrefix(name, "Lookup"):
			return hintOffload, true // DNS
		}
	case "io":
		if ioHelpers[key] {
			for _, a := range call.Args {
				if blockingIOType(c.pass.TypesInfo.TypeOf(a)) {
					return hintOffload, true
				}
			}
		}
	}
	return "", false
}

// blockingIOType reports whether t is a connection, file or serial port,
// whose reads and writes block.
func blockingIOType(t types.Type) bool {
	if t == nil {
		return false
	}
	t = types.Unalias(t)
	if p, ok := t.(*types.Pointer); ok {
		t = types.Unalias(p.Elem())
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return false
	}
	name := named.Obj().Name()
	switch named.Obj().Pkg().Path() {
	case "net":
		return strings.HasSuffix(name, "Conn")
	case "os":
		return name == "File"
	case "crypto/tls":
		return name == "Conn"
	case "go.bug.st/serial":
		return name == "Port"
	}
	return false
}

// safeLoopMethods are the loop methods documented as safe from any
// goroutine, reading only what never changes after New, or (Run) making
// the calling goroutine the loop's.
var safeLoopMethods = map[string]bool{
	"Loop.Post":                 true,
	"Inlet.TryPost":             true, // Post with a bound
	"Inlet.Stats":               true, // atomic counters
	"Inlet.Name":                true,
	"Loop.Run":                  true, // the calling goroutine becomes the loop's
	"Loop.RunForever":           true,
	"Loop.Now":                  true,
	"Loop.Clock":                true,
	"Loop.Logger":               true,
	"Loop.OnLoop":               true, // reads the caller's stack
	"Task.Name":                 true,
	"Task.String":               true,
	"Clock.Now":                 true,
	"VirtualClock.Now":          true,
	"VirtualClock.Elapsed":      true,
	"VirtualClock.Start":        true,
	"VirtualClock.Since":        true,
	"TimeoutError.Error":        true,
	"TimeoutError.Is":           true,
	"PanicError.Error":          true,
	"LatencyHistogram.Count":    true,
	"LatencyHistogram.Quantile": true,
}

// loopStateOp reports whether fn uses loop state, and so must not be
// called from another goroutine: an exported method of an exported type of
// the loop or primitives package (except the safe ones), or a function of
// those packages that takes a *loop.Task or *loop.Loop.
func loopStateOp(fn *types.Func) bool {
	if fn.Pkg() == nil || !fn.Exported() {
		return false
	}
	path := fn.Pkg().Path()
	if path != loopPath && path != primitivesPath {
		return false
	}
	sig := fn.Type().(*types.Signature)
	if sig.Recv() != nil {
		recv := recvName(fn)
		if recv == "" || !ast.IsExported(recv) {
			return false
		}
		return path != loopPath || !safeLoopMethods[recv+"."+fn.Name()]
	}
	for i := 0; i < sig.Params().Len(); i++ {
		t := sig.Params().At(i).Type()
		if isTask(t) || isPtrTo(t, loopPath, "Loop") {
			return true
		}
	}
	return false
}

// funcKey names fn as "pkgpath.Func" or "pkgpath.Type.Method".
func funcKey(fn *types.Func) string {
	if recv := recvName(fn); recv != "" {
		return fn.Pkg().Path() + "." + recv + "." + fn.Name()
	}
	return fn.Pkg().Path() + "." + fn.Name()
}

// displayName names fn for messages: time.Sleep, (*sync.Mutex).Lock,
// (net.Conn).Read.
func displayName(fn *types.Func) string {
	pkg := ""
	if fn.Pkg() != nil {
		pkg = fn.Pkg().Name() + "."
	}
	sig := fn.Type().(*types.Signature)
	if sig.Recv() == nil {
		return pkg + fn.Name()
	}
	recv := recvName(fn)
	if _, ptr := types.Unalias(sig.Recv().Type()).(*types.Pointer); ptr {
		return "(*" + pkg + recv + ")." + fn.Name()
	}
	return "(" + pkg + recv + ")." + fn.Name()
}

// recvName returns the name of the type fn is a method of, or "".
func recvName(fn *types.Func) string {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return ""
	}
	t := types.Unalias(sig.Recv().Type())
	if p, ok := t.(*types.Pointer); ok {
		t = types.Unalias(p.Elem())
	}
	if named, ok := t.(*types.Named); ok {
		return named.Origin().Obj().Name()
	}
	return ""
}

// isMethod reports whether fn is method name (any method if name is "")
// of type path.typ.
func isMethod(fn *types.Func, path, typ, name string) bool {
	return fn.Pkg() != nil && fn.Pkg().Path() == path && recvName(fn) == typ &&
		(name == "" || fn.Name() == name)
}

// isFunc reports whether fn is the package-level function path.name.
func isFunc(fn *types.Func, path, name string) bool {
	return fn.Pkg() != nil && fn.Pkg().Path() == path && fn.Name() == name &&
		fn.Type().(*types.Signature).Recv() == nil
}

// isPostCall reports whether fn hands its function argument to the loop,
// which runs it there: Loop.Post or Inlet.TryPost.
func isPostCall(fn *types.Func) bool {
	return fn != nil && (isMethod(fn, loopPath, "Loop", "Post") || isMethod(fn, loopPath, "Inlet", "TryPost"))
}

// isTask reports whether t is *loop.Task.
func isTask(t types.Type) bool { return isPtrTo(t, loopPath, "Task") }

func isPtrTo(t types.Type, path, name string) bool {
	if t == nil {
		return false
	}
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return false
	}
	named, ok := types.Unalias(p.Elem()).(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == path && named.Obj().Name() == name
}

// containsTask reports whether t is *loop.Task or a pointer, slice, array,
// map or channel of them (struct fields are not looked into).
func containsTask(t types.Type) bool {
	for range 4 {
		if t == nil {
			return false
		}
		if isTask(t) {
			return true
		}
		switch u := t.Underlying().(type) {
		case *types.Pointer:
			t = u.Elem()
		case *types.Slice:
			t = u.Elem()
		case *types.Array:
			t = u.Elem()
		case *types.Chan:
			t = u.Elem()
		case *types.Map:
			if containsTask(u.Key()) {
				return true
			}
			t = u.Elem()
		default:
			return false
		}
	}
	return false
}

func isChan(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

func isError(t types.Type) bool {
	return types.Identical(t, types.Universe.Lookup("error").Type())
}
