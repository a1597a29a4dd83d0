package htu21d_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
	"github.com/edgeagent/edgeagent/loop"
)

// The three bytes read after a TriggerTemperatureNoHold and the measuring time.
func ExampleParseReading() {
	raw, err := htu21d.ParseReading([]byte{0x68, 0x3A, 0x7C})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.2f °C\n", htu21d.Celsius(raw))

	// One bit flipped on the bus.
	_, err = htu21d.ParseReading([]byte{0x68, 0x3B, 0x7C})
	fmt.Println(err)
	// Output:
	// 24.69 °C
	// htu21d: CRC mismatch: reading 68 3b carries CRC 0x7c, computed 0x4d
}

func ExampleHumidity() {
	fmt.Printf("%.1f %%RH\n", htu21d.Humidity(0x4E85))
	fmt.Printf("%.1f %%RH\n", htu21d.Humidity(0xFFFF)) // clamped
	// Output:
	// 32.3 %RH
	// 100.0 %RH
}

// Change the resolution without touching reserved bits: read the user
// register, change the resolution bits, write it back.
func ExampleWithResolution() {
	reg := byte(htu21d.DefaultUserRegister) // as read with ReadUserRegister
	reg = htu21d.WithResolution(reg, htu21d.RH8T12)
	rh, t := htu21d.ResolutionOf(reg).MeasuringTime()
	fmt.Printf("write %#02x: %v, wait %v (RH) or %v (T)\n", reg, htu21d.ResolutionOf(reg), rh, t)
	// Output:
	// write 0x03: RH 8 bit, T 12 bit, wait 3ms (RH) or 13ms (T)
}

// Run, started as a task, reads every period and publishes each reading,
// good or failed, to Latest and to its queue (Events). Latest().Wait returns as soon
// as the first reading is there, the seed's "await the sensor". A failing
// sensor becomes an error state, retried with back-off. The simulated chip
// and the virtual clock make the example's half minute pass at once; on
// hardware, bus is an i2c.Bus from periph's i2creg.Open.
func ExampleDev_Run() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc), loop.WithLogger(slog.New(slog.DiscardHandler)))
	bus := htu21dtest.New(vc.Now)
	bus.Set(21.5, 45)

	sensor, err := htu21d.New(bus, htu21d.WithPeriod(30*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	readings := sensor.Events()
	err = l.Run(context.Background(), func(t *loop.Task) error {
		g := loop.NewGroup(t)
		g.Go("htu21d", sensor.Run)
		first, err := sensor.Latest().Wait(t)
		if err != nil {
			return err
		}
		fmt.Printf("first: %.1f °C at %v\n", first.Celsius, vc.Elapsed())

		bus.SetPresent(false) // unplugged
		for range 4 {
			r, err := readings.Get(t)
			if err != nil {
				return err
			}
			if r.Err != nil {
				fmt.Printf("%v: failure %d, retry in %v: %v\n", vc.Elapsed(), r.Failures, r.RetryIn, r.Err)
				if r.Failures == 2 {
					bus.SetPresent(true) // plugged back
				}
				continue
			}
			fmt.Printf("%v: %.1f °C, %.1f %%RH\n", vc.Elapsed(), r.Celsius, r.Humidity)
		}
		return g.Stop(t)
	})
	fmt.Println("run:", err)
	// Output:
	// first: 21.5 °C at 81ms
	// 81ms: 21.5 °C, 45.0 %RH
	// 30s: failure 1, retry in 1s: htu21d 0x40 on htu21dtest: trigger temperature: htu21dtest: address not acknowledged (remote I/O error)
	// 31s: failure 2, retry in 2s: htu21d 0x40 on htu21dtest: soft reset: htu21dtest: address not acknowledged (remote I/O error)
	// 33.081s: 21.5 °C, 45.0 %RH
	// run: <nil>
}

// Read measures on demand; bound it with WaitForValue like any await.
// At 11 bits a temperature step is 0.09 °C.
func ExampleDev_Read() {
	vc := loop.NewVirtualClock()
	l := loop.New(loop.WithClock(vc))
	bus := htu21dtest.New(vc.Now)
	bus.Set(-5.25, 80)
	sensor, err := htu21d.New(bus, htu21d.WithMeasurementResolution(htu21d.RH11T11))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = l.Run(context.Background(), func(t *loop.Task) error {
		r, err := loop.WaitForValue(t, time.Second, sensor.Read)
		if err != nil {
			return err
		}
		fmt.Printf("%.2f °C, %.1f %%RH after %v\n", r.Celsius, r.Humidity, vc.Elapsed())
		return nil
	})
	fmt.Println("run:", err)
	// Output:
	// -5.32 °C, 80.0 %RH after 30ms
	// run: <nil>
}
