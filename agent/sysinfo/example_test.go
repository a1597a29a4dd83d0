package sysinfo_test

import (
	"errors"
	"fmt"

	"github.com/edgeagent/edgeagent/agent/sysinfo"
)

// Reading the system device's values; on a board the root is "/". A
// missing thermal zone is reported once, as a fact, not retried as a fault.
func Example() {
	const root = "testdata/pi"
	if z, err := sysinfo.FindZone(root, ""); errors.Is(err, sysinfo.ErrNotAvailable) {
		fmt.Println("no CPU temperature:", err)
	} else if err == nil {
		c, err := z.Temperature()
		fmt.Println(z, c, err)
	}
	load, _ := sysinfo.ReadLoad(root)
	up, _ := sysinfo.ReadUptime(root)
	p, _ := sysinfo.ReadProcess(root)
	fmt.Println(load.Avg1, load.Avg5, load.Avg15, up)
	fmt.Println(p.RSS>>10, "KiB", p.User+p.System)
	// Output:
	// thermal_zone0 (cpu-thermal) 48.312 <nil>
	// 0.08 0.12 0.09 24h0m23.17s
	// 13824 KiB 10.25s
}
