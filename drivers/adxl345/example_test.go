package adxl345_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/adxl345/adxl345test"
	"github.com/edgeagent/edgeagent/loop"
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

// Run, started as a task, is the seed's apoll: it polls every 100 ms and
// publishes only changes beyond the threshold of the smoothed value. Here
// the board is tipped onto its side at 1 s; without smoothing, one change
// is reported, at the first poll that reads a sample taken after the tip
// (the chip samples at 12.5 Hz). On hardware, bus is an i2c.Bus from periph's i2creg.Open.
func ExampleDev_Run() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	chip := adxl345test.New(adxl345.AddressAltLow, vc.Now)
	start := vc.Now()
	chip.SetSignal(func(at time.Time) adxl345.Vector {
		if at.Sub(start) < time.Second {
			return adxl345.Vector{Z: 1} // flat
		}
		return adxl345.Vector{X: 1} // on its side
	})

	accel, err := adxl345.New(chip,
		adxl345.WithThreshold(0.1, adxl345.Distance),
		adxl345.WithSmoothing(1)) // off
	if err != nil {
		fmt.Println(err)
		return
	}
	changes := accel.Events()
	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("adxl345", accel.Run)
		for range 2 {
			s, err := changes.Get(t)
			if err != nil {
				return err
			}
			fmt.Printf("%v: %+v\n", s.Time.Sub(start), s.Smoothed)
		}
		return g.Stop(t)
	})
	fmt.Println("run:", err)
	// Output:
	// 81.1ms: {X:0 Y:0 Z:1}
	// 1.1s: {X:1 Y:0 Z:0}
	// run: <nil>
}

// Read returns the acceleration now, for on-demand use.
func ExampleDev_Read() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	chip := adxl345test.New(adxl345.AddressAltHigh, vc.Now)
	chip.SetAccel(adxl345.Vector{X: 0.25, Y: -0.5, Z: 0.8})
	accel, err := adxl345.New(chip, adxl345.WithAddress(adxl345.AddressAltHigh), adxl345.WithRange(adxl345.Range4G))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = l.Run(context.Background(), func(t *loop.Task) error {
		v, err := loop.WaitForValue(t, time.Second, accel.Read)
		if err != nil {
			return err
		}
		fmt.Printf("%.3f %.3f %.3f g, |a| %.2f g, after %v\n", v.X, v.Y, v.Z, v.Magnitude(), vc.Elapsed())
		return nil
	})
	fmt.Println("run:", err)
	// Output:
	// 0.250 -0.500 0.801 g, |a| 0.98 g, after 81.1ms
	// run: <nil>
}
