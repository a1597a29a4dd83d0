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

// A test of how code copes with what the chip may send: an exact raw
// reading (status bits set where the datasheet says they are not data),
// then a result corrupted on the bus in a chosen way. The driver masks
// the status bits, and reports the corruption as ErrCRC.
func ExampleSensor_SetRaw() {
	now := time.Time{}
	sensor := htu21dtest.New(func() time.Time { return now })
	sensor.SetRaw(0x683F, 0x4E87) // the two low bits set on both
	read := func(trigger byte) ([]byte, error) {
		r := make([]byte, 3)
		_ = sensor.Tx(htu21d.Address, []byte{trigger}, nil)
		now = now.Add(50 * time.Millisecond)
		err := sensor.Tx(htu21d.Address, nil, r)
		return r, err
	}
	r, _ := read(htu21d.TriggerTemperatureNoHold)
	raw, err := htu21d.ParseReading(r)
	fmt.Printf("% x: raw %#04x, %.2f °C, %v\n", r, raw, htu21d.Celsius(raw), err)

	sensor.CorruptNext(htu21dtest.FlipData(0)) // the LSB's lowest bit
	r, _ = read(htu21d.TriggerHumidityNoHold)
	_, err = htu21d.ParseReading(r)
	fmt.Printf("% x: %v\n", r, err)
	// Output:
	// 68 3f 89: raw 0x683f, 24.70 °C, <nil>
	// 4e 86 09: htu21d: CRC mismatch: reading 4e 86 carries CRC 0x09, computed 0x38
}
