package adxl345test_test

import (
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/adxl345/adxl345test"
)

// The simulated chip samples only in measurement mode, at its data rate,
// in the data format set.
func ExampleNew() {
	now := time.Time{}
	chip := adxl345test.New(adxl345.AddressAltLow, func() time.Time { return now })
	chip.SetAccel(adxl345.Vector{X: 0.5, Z: -1})

	_ = chip.Tx(adxl345.AddressAltLow, []byte{adxl345.RegDataFormat, 0x08}, nil) // full resolution
	_ = chip.Tx(adxl345.AddressAltLow, []byte{adxl345.RegPowerCtl, adxl345.PowerMeasure}, nil)
	now = now.Add(adxl345test.TurnOnTime + 10*time.Millisecond) // first sample at 100 Hz

	b := make([]byte, 6)
	err := chip.Tx(adxl345.AddressAltLow, []byte{adxl345.RegDataX0}, b)
	v, _ := adxl345.ParseSample(b, adxl345.FormatOf(0x08))
	fmt.Printf("% x %v: %+v\n", b, err, v)
	// Output:
	// 80 00 00 00 00 ff <nil>: {X:0.5 Y:0 Z:-1}
}
