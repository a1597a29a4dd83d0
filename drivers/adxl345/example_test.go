package adxl345_test

import (
	"fmt"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
)

// Check the chip, then configure it: full resolution at ±16 g, 100 Hz.
func ExampleCheckDeviceID() {
	if err := adxl345.CheckDeviceID(0x00); err != nil { // 0x00: as read from RegDevID
		fmt.Println(err)
	}
	format := adxl345.Format{Range: adxl345.Range16G, FullResolution: true}
	rate, _ := adxl345.RateFor(100)
	fmt.Printf("write 0x%02x to DATA_FORMAT (0x%02x), 0x%02x to BW_RATE (0x%02x), 0x%02x to POWER_CTL (0x%02x)\n",
		format.Byte(), adxl345.RegDataFormat, byte(rate), adxl345.RegBWRate, adxl345.PowerMeasure, adxl345.RegPowerCtl)
	// Output:
	// adxl345: wrong device id: register 0x00 reads 0x00, want 0xe5
	// write 0x0b to DATA_FORMAT (0x31), 0x0a to BW_RATE (0x2c), 0x08 to POWER_CTL (0x2d)
}

// Six bytes read from DATAX0 onwards, chip lying flat.
func ExampleParseSample() {
	format := adxl345.FormatOf(0x0B) // as read from DATA_FORMAT
	v, err := adxl345.ParseSample([]byte{0x03, 0x00, 0xFB, 0xFF, 0x02, 0x01}, format)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x %.3f g, y %.3f g, z %.3f g, |a| %.2f g\n", v.X, v.Y, v.Z, v.Magnitude())
	// Output:
	// x 0.012 g, y -0.020 g, z 1.008 g, |a| 1.01 g
}
