package drivers

import (
	"fmt"
	"time"
)

// A Fault is the error state a polling driver (htu21d, adxl345) publishes
// in place of a value when a reading fails. Readings embed it: its zero
// value means the reading is good.
type Fault struct {
	// Err is why the reading failed, a *DeviceError; nil in a good reading.
	Err error
	// Failures counts the consecutive failed readings, this one included;
	// 0 in a good reading.
	Failures int
	// RetryIn is how long the driver waits before trying again.
	RetryIn time.Duration
}

// Failed reports whether the fault is an error state.
func (f Fault) Failed() bool { return f.Err != nil }

// FaultJSON is a Fault on the wire, embedded in a reading's JSON object:
// "error" (the message), "failures" and "retry_in_s" (seconds), each left
// out when zero, so a good reading carries none of them.
type FaultJSON struct {
	Error    string  `json:"error,omitempty"`
	Failures int     `json:"failures,omitempty"`
	RetryIn  float64 `json:"retry_in_s,omitempty"`
}

// JSON returns the fault's wire form.
func (f Fault) JSON() FaultJSON {
	if f.Err == nil {
		return FaultJSON{}
	}
	return FaultJSON{Error: f.Err.Error(), Failures: f.Failures, RetryIn: f.RetryIn.Seconds()}
}

// A DeviceError is the error of an operation on a device: which device,
// which step, and the cause it wraps — a bus error (an I2C NACK: the chip
// is absent, busy or wedged) or one of the driver's sentinels.
type DeviceError struct {
	Device string // e.g. "htu21d 0x40 on I2C1"
	Op     string // what failed, e.g. "read temperature"
	Err    error
}

func (e *DeviceError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Device, e.Op, e.Err) }

// Unwrap returns the cause.
func (e *DeviceError) Unwrap() error { return e.Err }
