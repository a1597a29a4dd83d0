package htu21d_test

import (
	"fmt"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
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
