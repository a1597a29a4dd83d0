package htu21dtest_test

import (
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
)

// The simulated chip speaks the datasheet's protocol: trigger, wait the
// measuring time, read three bytes. Its log shows what a driver did, when.
func ExampleNew() {
	now := time.Time{}
	sensor := htu21dtest.New(func() time.Time { return now })
	sensor.Set(24.7, 32.3)

	r := make([]byte, 3)
	_ = sensor.Tx(htu21d.Address, []byte{htu21d.TriggerTemperatureNoHold}, nil)
	fmt.Println("too early:", sensor.Tx(htu21d.Address, nil, r))
	now = now.Add(50 * time.Millisecond) // 14-bit temperature
	fmt.Println("in time:", sensor.Tx(htu21d.Address, nil, r))
	raw, err := htu21d.ParseReading(r)
	fmt.Printf("% x: %.2f °C %v\n", r, htu21d.Celsius(raw), err)
	for _, op := range sensor.Ops() {
		fmt.Println(op.At.Sub(time.Time{}), op)
	}
	// Output:
	// too early: htu21dtest: address not acknowledged (remote I/O error)
	// in time: <nil>
	// 68 3c da: 24.70 °C <nil>
	// 0s W[f3]
	// 0s W[] NACK
	// 50ms W[] R[68 3c da]
}
