package loop

import (
	"reflect"
	"runtime"
)

// OnLoop reports whether the code calling it runs on l: in the function of
// one of l's tasks, or in a callback l runs (a posted function, a CallSoon
// or CallLater callback, a group's OnChildFailure). It is false on any
// other goroutine — a driver's edge waiter, a serial reader, an Offload
// call, an MQTT callback — and when l is not running.
//
// It is meant for tests that check where a callback runs ("OnEvent is
// called on the loop, not on the edge goroutine"); it reads the caller's
// stack, a few microseconds. It is safe from any goroutine. It cannot tell
// l from another loop running in the same process at the same moment.
func (l *Loop) OnLoop() bool {
	if !l.active.Load() {
		return false
	}
	pkg := reflect.TypeFor[Loop]().PkgPath()
	body, callback := pkg+".(*Task).body", pkg+".(*Loop).callback"
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == body || f.Function == callback {
			return true
		}
		if !more {
			return false
		}
	}
}
