// Package suppress holds the //loopvet:ok cases.
package suppress

import (
	"time"

	"github.com/edgeagent/edgeagent/loop"
)

func task(t *loop.Task, ch chan int) error {
	time.Sleep(time.Millisecond) //loopvet:ok a calibrated 1 ms busy pause before the sensor answers

	//loopvet:ok the channel is buffered and drained by the loop itself
	ch <- 1

	_ = t.Yield() //loopvet:ok	tab-separated reason

	// A directive without a reason is reported, and suppresses nothing.
	// want +1 `//loopvet:ok needs a reason` `time.Sleep blocks the loop`
	time.Sleep(time.Millisecond) //loopvet:ok

	// want +1 `//loopvet:ok needs a reason`
	//loopvet:ok
	ch <- 2 // want `channel send blocks the loop`

	// want +1 `time.Sleep blocks the loop`
	time.Sleep(time.Millisecond) //loopvet:okay is not the directive

	// A directive covers its own line and the next, not further.
	//loopvet:ok the first sleep only

	time.Sleep(time.Millisecond) // want `time.Sleep blocks the loop`
	return nil
}
