// Package adxl345 drives the Analog Devices ADXL345 three-axis
// accelerometer on an I2C bus as tasks on the loop, in the pattern of the
// seed's apoll: a task polls the chip and reports only changes.
//
// Two layers. The pure one: the register map and bit fields, the measuring
// ranges and data rates, the conversion from the 10- to 13-bit
// two's-complement samples to g, the device-id check — functions of register
// values, with no I/O and no state. The driver, Dev: built with New on a
// periph.io i2c.Bus, it checks the device id and configures rate, range and
// full resolution (Init), reads x/y/z in g in one transfer (Read), and Run
// polls at a set period, smooths the readings with an exponential moving
// average, and publishes to Latest, a primitives.Event, and its queue
// (Events, Subscribe) only the samples whose smoothed value moved beyond a threshold from the
// last one published — by vector distance, per axis, or by magnitude (see
// ThresholdMode). Failures are published as error states and retried with
// capped exponential back-off.
//
// What the package must not do: block the loop for longer than one bus
// transfer (none with WithOffload), own or close the bus, keep
// package-level state, or stop on a chip error. Package adxl345test
// simulates the chip for tests.
package adxl345

import (
	"errors"
	"fmt"
	"math"
)

// I2C addresses, chosen by the ALT ADDRESS pin.
const (
	AddressAltLow  = 0x53 // ALT ADDRESS tied low (common on breakout boards)
	AddressAltHigh = 0x1D // ALT ADDRESS tied high
)

// DeviceID is the fixed content of RegDevID.
const DeviceID = 0xE5

// Register addresses. Registers 0x01–0x1C are reserved.
const (
	RegDevID        = 0x00 // device id, reads DeviceID
	RegThreshTap    = 0x1D // tap threshold, ThreshScale per LSB
	RegOfsX         = 0x1E // X offset, OffsetScale per LSB, two's complement
	RegOfsY         = 0x1F // Y offset
	RegOfsZ         = 0x20 // Z offset
	RegDur          = 0x21 // tap duration, 625 µs per LSB
	RegLatent       = 0x22 // tap latency, 1.25 ms per LSB
	RegWindow       = 0x23 // tap window, 1.25 ms per LSB
	RegThreshAct    = 0x24 // activity threshold, ThreshScale per LSB
	RegThreshInact  = 0x25 // inactivity threshold, ThreshScale per LSB
	RegTimeInact    = 0x26 // inactivity time, 1 s per LSB
	RegActInactCtl  = 0x27 // axis enables for activity and inactivity
	RegThreshFF     = 0x28 // free-fall threshold, ThreshScale per LSB
	RegTimeFF       = 0x29 // free-fall time, 5 ms per LSB
	RegTapAxes      = 0x2A // axis control for tap detection
	RegActTapStatus = 0x2B // source of activity and tap events
	RegBWRate       = 0x2C // data rate and low-power mode
	RegPowerCtl     = 0x2D // power-saving features, measure/standby
	RegIntEnable    = 0x2E // interrupt enables
	RegIntMap       = 0x2F // interrupt pin mapping (set: INT2)
	RegIntSource    = 0x30 // interrupt sources
	RegDataFormat   = 0x31 // data format: range, resolution, justification
	RegDataX0       = 0x32 // X, low byte; a sample is 6 bytes from here
	RegDataX1       = 0x33
	RegDataY0       = 0x34
	RegDataY1       = 0x35
	RegDataZ0       = 0x36
	RegDataZ1       = 0x37
	RegFIFOCtl      = 0x38 // FIFO mode and watermark
	RegFIFOStatus   = 0x39 // FIFO entries and trigger
)

// Scales of the threshold and offset registers.
const (
	ThreshScaleMilliG = 62.5 // THRESH_TAP, THRESH_ACT, THRESH_INACT, THRESH_FF
	OffsetScaleMilliG = 15.6 // OFSX, OFSY, OFSZ
)

// RegBWRate bits.
const (
	// LowPower trades noise for current at rates from 12.5 to 400 Hz.
	LowPower = 0x10
	rateMask = 0x0F
)

// RegPowerCtl bits.
const (
	PowerLink      = 0x20 // link activity and inactivity detection
	PowerAutoSleep = 0x10 // sleep on inactivity (needs PowerLink)
	PowerMeasure   = 0x08 // measure; clear for standby, the power-up state
	PowerSleep     = 0x04 // sleep mode
	// Bits 1–0 select the sampling rate while asleep: 0 = 8 Hz … 3 = 1 Hz.
)

// RegFIFOCtl and RegFIFOStatus bits. In the modes other than bypass the
// chip keeps samples in a FIFO of FIFOSize, and each read of the data
// registers (one transfer from RegDataX0) takes the oldest.
const (
	FIFOBypass  = 0x00 // no FIFO: the data registers hold the latest sample
	FIFOCollect = 0x40 // the datasheet's FIFO mode: collect FIFOSize samples, then stop
	FIFOStream  = 0x80 // keep the latest FIFOSize samples, dropping the oldest
	FIFOTrigger = 0xC0 // stream until the trigger interrupt, then collect
	// FIFOModeMask masks the mode bits of RegFIFOCtl.
	FIFOModeMask = 0xC0
	// FIFOEntriesMask masks the count of samples waiting in RegFIFOStatus.
	FIFOEntriesMask = 0x3F
	// FIFOSize is how many samples the FIFO holds.
	FIFOSize = 32
)

// Interrupt bits of RegIntEnable, RegIntMap and RegIntSource.
const (
	IntDataReady  = 0x80
	IntSingleTap  = 0x40
	IntDoubleTap  = 0x20
	IntActivity   = 0x10
	IntInactivity = 0x08
	IntFreeFall   = 0x04
	IntWatermark  = 0x02
	IntOverrun    = 0x01
)

// RegDataFormat bits. Format covers FullResolution, Justify and the range.
const (
	FormatSelfTest  = 0x80 // apply the self-test force
	FormatSPI3Wire  = 0x40 // 3-wire SPI
	FormatIntInvert = 0x20 // interrupts active low
	FormatFullRes   = 0x08 // full resolution: 3.9 mg/LSB at every range
	FormatJustify   = 0x04 // left-justified samples (MSB first)
	rangeMask       = 0x03
)

// Sentinel errors; the functions and the driver wrap them with what they
// saw.
var (
	ErrDeviceID = errors.New("adxl345: wrong device id")
	ErrLength   = errors.New("adxl345: wrong sample length")
	ErrRate     = errors.New("adxl345: no such data rate")
	// ErrReset: the chip has lost its configuration — it power-cycled or
	// browned out without a bus error, and sits in standby with its
	// power-up settings, its data registers reading zero.
	ErrReset = errors.New("adxl345: chip reset (it is in standby with its power-up settings)")
)

// CheckDeviceID reports whether id, read from RegDevID, is an ADXL345's.
// A mismatch wraps ErrDeviceID: a different chip at the address, or none.
func CheckDeviceID(id byte) error {
	if id != DeviceID {
		return fmt.Errorf("%w: register 0x%02x reads 0x%02x, want 0x%02x", ErrDeviceID, RegDevID, id, DeviceID)
	}
	return nil
}

// Range is a measuring range: RegDataFormat bits 1–0.
type Range uint8

// The measuring ranges.
const (
	Range2G  Range = 0 // ±2 g, the power-up default
	Range4G  Range = 1
	Range8G  Range = 2
	Range16G Range = 3
)

// G returns the range's full scale in g: 2, 4, 8 or 16.
func (r Range) G() int { return 2 << (r & rangeMask) }

// String names the range, e.g. "±16 g".
func (r Range) String() string { return fmt.Sprintf("±%d g", r.G()) }

// Format is how samples are encoded: the range, full resolution and
// justification bits of RegDataFormat.
type Format struct {
	Range Range
	// FullResolution keeps 3.9 mg/LSB at every range, with 10 bits at ±2 g
	// up to 13 bits at ±16 g. Without it samples have 10 bits and the scale
	// grows with the range: 3.9, 7.8, 15.6, 31.2 mg/LSB.
	FullResolution bool
	// LeftJustify puts a sample's most significant bit at bit 15 of its
	// register pair; otherwise the sample is right-justified and
	// sign-extended (the power-up state).
	LeftJustify bool
}

// FormatOf extracts the Format from a RegDataFormat value; other bits are
// ignored.
func FormatOf(dataFormat byte) Format {
	return Format{
		Range:          Range(dataFormat & rangeMask),
		FullResolution: dataFormat&FormatFullRes != 0,
		LeftJustify:    dataFormat&FormatJustify != 0,
	}
}

// Byte returns the RegDataFormat bits for f; OR in FormatSelfTest,
// FormatSPI3Wire or FormatIntInvert as needed.
func (f Format) Byte() byte {
	b := byte(f.Range & rangeMask)
	if f.FullResolution {
		b |= FormatFullRes
	}
	if f.LeftJustify {
		b |= FormatJustify
	}
	return b
}

// Bits returns the number of significant bits in a sample, sign included.
func (f Format) Bits() int {
	if f.FullResolution {
		return 10 + int(f.Range&rangeMask)
	}
	return 10
}

// lsbPerG is the typical sensitivity at ±2 g (and at every range in full
// resolution): 256 LSB/g, which the datasheet also states, rounded, as a
// 3.9 mg/LSB scale factor.
const lsbPerG = 256

// MilliGPerLSB returns the scale of one count: 1000/256 ≈ 3.9 mg in full
// resolution, doubling with each range step otherwise.
func (f Format) MilliGPerLSB() float64 {
	if f.FullResolution {
		return 1000.0 / lsbPerG
	}
	return 1000.0 / lsbPerG * float64(int(1)<<(f.Range&rangeMask))
}

// Counts decodes one axis's register pair (DATAx0, DATAx1) into a signed
// count of Bits bits, for either justification.
func (f Format) Counts(lo, hi byte) int16 {
	u := uint16(hi)<<8 | uint16(lo)
	shift := 16 - f.Bits()
	if f.LeftJustify {
		return int16(u) >> shift
	}
	// Right-justified samples arrive sign-extended; extend again from the
	// sample's own sign bit so stray high bits cannot change the value.
	return int16(u<<shift) >> shift
}

// G converts a count from Counts to g.
func (f Format) G(counts int16) float64 {
	return float64(counts) * f.MilliGPerLSB() / 1000
}

// Vector is an acceleration in g along the device's X, Y and Z axes. Its
// JSON is {"x":0,"y":0,"z":1}.
type Vector struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// Magnitude returns the vector's length in g: about 1 at rest.
func (v Vector) Magnitude() float64 { return math.Sqrt(v.X*v.X + v.Y*v.Y + v.Z*v.Z) }

// ParseSample converts the six bytes read from RegDataX0 onwards into g.
// A different length wraps ErrLength.
func ParseSample(b []byte, f Format) (Vector, error) {
	if len(b) != 6 {
		return Vector{}, fmt.Errorf("%w: got %d bytes [% x], want 6 (DATAX0 to DATAZ1)", ErrLength, len(b), b)
	}
	return Vector{
		X: f.G(f.Counts(b[0], b[1])),
		Y: f.G(f.Counts(b[2], b[3])),
		Z: f.G(f.Counts(b[4], b[5])),
	}, nil
}

// Rate is an output data rate code: RegBWRate bits 3–0. The rate is
// 3200 Hz / 2^(15−code); the bandwidth is half of it.
type Rate uint8

// The output data rates. Rate100Hz is the power-up default.
const (
	Rate0_10Hz Rate = iota
	Rate0_20Hz
	Rate0_39Hz
	Rate0_78Hz
	Rate1_56Hz
	Rate3_13Hz
	Rate6_25Hz
	Rate12_5Hz
	Rate25Hz
	Rate50Hz
	Rate100Hz
	Rate200Hz
	Rate400Hz
	Rate800Hz
	Rate1600Hz
	Rate3200Hz
)

// Hz returns the output data rate.
func (r Rate) Hz() float64 { return 3200 / float64(int(1)<<(15-r&rateMask)) }

// BandwidthHz returns the filter bandwidth: half the data rate.
func (r Rate) BandwidthHz() float64 { return r.Hz() / 2 }

// String gives the rate as the datasheet writes it, e.g. "100 Hz", "3.13 Hz".
func (r Rate) String() string {
	names := [...]string{"0.10", "0.20", "0.39", "0.78", "1.56", "3.13", "6.25", "12.5",
		"25", "50", "100", "200", "400", "800", "1600", "3200"}
	return names[r&rateMask] + " Hz"
}

// RateOf extracts the rate code from a RegBWRate value.
func RateOf(bwRate byte) Rate { return Rate(bwRate & rateMask) }

// RateFor returns the code whose rate is hz, as written exactly or rounded to
// two decimals the way the datasheet lists them (100, 3.13, 0.20 …). A rate
// the chip lacks wraps ErrRate.
func RateFor(hz float64) (Rate, error) {
	for r := Rate0_10Hz; r <= Rate3200Hz; r++ {
		if math.Abs(hz-r.Hz()) <= 0.0051 {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: %v Hz (0.10, 0.20, 0.39, 0.78, 1.56, 3.13, 6.25, 12.5, 25, 50, 100, 200, 400, 800, 1600 or 3200)", ErrRate, hz)
}
