// Package htu21d drives the TE Connectivity (MEAS) HTU21D(F) temperature
// and humidity sensor on an I2C bus, the seed's htu21d_mc.py, as tasks on
// the loop.
//
// Two layers. The pure one: command codes, the CRC-8 that guards every
// reading, the conversions from raw readings to °C and %RH, the user
// register's resolution bits and the measuring time each resolution needs —
// functions of bytes, with no I/O and no state. The driver, Dev: built with
// New on a periph.io i2c.Bus, it triggers no-hold measurements, awaits the
// datasheet's measuring time with t.Sleep, reads and checks the result; Run
// is a periodic task publishing each Reading (or error state) to Latest, a
// primitives.Event, and to its queue (Events, Subscribe), retrying
// failures with capped exponential back-off; Read measures on demand.
//
// A measurement is three bytes: MSB, LSB, CRC. The two low bits of the LSB
// are status bits, not data; the conversions mask them off.
//
// What the package must not do: block the loop for longer than one bus
// transfer (none with WithOffload), own or close the bus, keep
// package-level state, or stop on a sensor error — errors become published
// states and retries. Package htu21dtest simulates the chip for tests.
package htu21d

import (
	"errors"
	"fmt"
	"time"
)

// Address is the sensor's fixed 7-bit I2C address.
const Address = 0x40

// Commands, sent as the single byte of an I2C write.
const (
	// TriggerTemperatureHold starts a temperature measurement and holds the
	// clock line (clock stretching) until it is done.
	TriggerTemperatureHold = 0xE3
	// TriggerHumidityHold is TriggerTemperatureHold for humidity.
	TriggerHumidityHold = 0xE5
	// TriggerTemperatureNoHold starts a temperature measurement and releases
	// the bus; read the result after the measuring time. The seed uses this.
	TriggerTemperatureNoHold = 0xF3
	// TriggerHumidityNoHold is TriggerTemperatureNoHold for humidity.
	TriggerHumidityNoHold = 0xF5
	// WriteUserRegister is followed by the register's new value.
	WriteUserRegister = 0xE6
	// ReadUserRegister is followed by a one-byte read.
	ReadUserRegister = 0xE7
	// SoftReset restarts the sensor with default settings (the heater bit
	// excepted); it takes up to SoftResetTime.
	SoftReset = 0xFE
)

// SoftResetTime is the longest a soft reset takes.
const SoftResetTime = 15 * time.Millisecond

// User register bits.
const (
	// DefaultUserRegister is the register after power-up: 12-bit RH, 14-bit
	// temperature, OTP reload disabled. The seed expects to read it back.
	DefaultUserRegister = 0x02
	// EndOfBattery is set when the supply fell below 2.25 V during the last
	// measurement. Read-only.
	EndOfBattery = 0x40
	// Heater enables the on-chip heater (about 5.5 mW, +0.5–1.5 °C), a
	// diagnostic: relative humidity must drop while it runs.
	Heater = 0x04
	// DisableOTPReload is set by default; the datasheet advises a soft reset
	// instead of OTP reload.
	DisableOTPReload = 0x02
	// resolutionMask covers the resolution bits, 7 and 0.
	resolutionMask = 0x81
)

// Resolution is a measurement resolution setting: the user register's bits 7
// and 0, in place.
type Resolution uint8

// The four resolutions, named relative humidity bits first.
const (
	RH12T14 Resolution = 0x00 // the power-up default
	RH8T12  Resolution = 0x01
	RH10T13 Resolution = 0x80
	RH11T11 Resolution = 0x81
)

// ResolutionOf extracts the resolution from a user register value.
func ResolutionOf(userRegister byte) Resolution {
	return Resolution(userRegister & resolutionMask)
}

// WithResolution returns the user register value that selects r and keeps
// every other bit of userRegister — the value read back before writing, as
// the datasheet requires, since reserved bits must not change.
func WithResolution(userRegister byte, r Resolution) byte {
	return userRegister&^resolutionMask | byte(r)&resolutionMask
}

// Bits returns the number of bits of a humidity and of a temperature reading.
func (r Resolution) Bits() (humidity, temperature int) {
	switch r & resolutionMask {
	case RH8T12:
		return 8, 12
	case RH10T13:
		return 10, 13
	case RH11T11:
		return 11, 11
	default:
		return 12, 14
	}
}

// String names the resolution, e.g. "RH 12 bit, T 14 bit".
func (r Resolution) String() string {
	rh, t := r.Bits()
	return fmt.Sprintf("RH %d bit, T %d bit", rh, t)
}

// MeasuringTime returns the datasheet's maximum conversion times at this
// resolution: the wait between a no-hold trigger and reading the result.
// (The seed waits a flat 60 ms for either; at the default resolution the
// datasheet needs 16 ms for humidity and 50 ms for temperature.)
func (r Resolution) MeasuringTime() (humidity, temperature time.Duration) {
	rh, t := r.Bits()
	return humidityTime(rh), temperatureTime(t)
}

func humidityTime(bits int) time.Duration {
	switch bits {
	case 8:
		return 3 * time.Millisecond
	case 10:
		return 5 * time.Millisecond
	case 11:
		return 8 * time.Millisecond
	default:
		return 16 * time.Millisecond
	}
}

func temperatureTime(bits int) time.Duration {
	switch bits {
	case 11:
		return 7 * time.Millisecond
	case 12:
		return 13 * time.Millisecond
	case 13:
		return 25 * time.Millisecond
	default:
		return 50 * time.Millisecond
	}
}

// statusMask clears the two status bits of a raw reading.
const statusMask = 0xFFFC

// Celsius converts a raw temperature reading to degrees Celsius:
// T = −46.85 + 175.72 · raw / 65536, with the status bits masked off.
// The result spans −46.85 °C to 128.87 °C; the sensor is specified for
// −40 °C to 125 °C.
func Celsius(raw uint16) float64 {
	return -46.85 + 175.72*float64(raw&statusMask)/65536
}

// Humidity converts a raw humidity reading to percent relative humidity:
// RH = −6 + 125 · raw / 65536, with the status bits masked off. The formula
// spans −6 % to 118.99 %; the result is clamped to 0–100 %, because readings
// outside it (near dryness or in saturation) are sensor tolerance, not
// humidity. Callers that need the unclamped value compute it from raw.
func Humidity(raw uint16) float64 {
	return clampPercent(-6 + 125*float64(raw&statusMask)/65536)
}

// CompensatedHumidity corrects a relative humidity reading measured at
// celsius to its value at 25 °C, with the datasheet's temperature
// coefficient of −0.15 %RH/°C (valid from 0 °C to 80 °C), clamped to 0–100 %.
func CompensatedHumidity(rh, celsius float64) float64 {
	return clampPercent(rh + (25-celsius)*-0.15)
}

func clampPercent(v float64) float64 {
	return min(max(v, 0), 100)
}

// CRC8 computes the sensor's checksum: polynomial x⁸+x⁵+x⁴+1 (0x31),
// initial value 0, no reflection, no final XOR.
func CRC8(data []byte) byte {
	var crc byte
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Sentinel errors, wrapped with details by ParseReading.
var (
	// ErrCRC: the checksum byte does not match the data bytes — a bus error
	// (the seed raises OSError('HTU21D CRC Fail')).
	ErrCRC = errors.New("htu21d: CRC mismatch")
	// ErrLength: a reading that is not three bytes.
	ErrLength = errors.New("htu21d: wrong reading length")
)

// ParseReading checks a three-byte measurement (MSB, LSB, CRC) and returns
// the raw 16-bit value, status bits included, for Celsius or Humidity.
// Failures wrap ErrCRC or ErrLength and quote the bytes, e.g.
// "htu21d: CRC mismatch: reading 68 3a carries CRC 0x7d, computed 0x7c".
func ParseReading(b []byte) (uint16, error) {
	if len(b) != 3 {
		return 0, fmt.Errorf("%w: got %d bytes [% x], want 3 (MSB, LSB, CRC)", ErrLength, len(b), b)
	}
	if crc := CRC8(b[:2]); crc != b[2] {
		return 0, fmt.Errorf("%w: reading % x carries CRC 0x%02x, computed 0x%02x", ErrCRC, b[:2], b[2], crc)
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}
