// Package adxl345test simulates an ADXL345 accelerometer on an I2C bus, at
// register level, for tests and demos of code that uses the adxl345 driver
// without the chip.
//
// A Sensor implements i2c.Bus with one device on it. Like the chip it has
// the register map of the datasheet with its power-up values, reads and
// writes several registers in one transfer (the address increments), and
// samples only in measurement mode: the first sample is ready the turn-on
// time (1.1 ms) plus one sample period after POWER_CTL's Measure bit is
// set, and a new one every sample period after that; the data registers
// hold the latest sample, encoded in the DATA_FORMAT in force. In the
// FIFO's stream and FIFO modes (FIFO_CTL) the samples since the mode was
// set are kept, 32 at most — stream mode drops the oldest, FIFO mode stops
// (trigger mode is simulated as FIFO mode) — FIFO_STATUS counts them, and
// each read of the data registers takes the oldest. The acceleration is a
// function of time set by the test, sampled at those instants. Faults can be injected: NACKs, an absent chip, a power cycle, a
// foreign device id.
//
// Every transaction is logged with the time it happened, read from the
// clock function given to New (a loop's VirtualClock.Now in tests); the
// log keeps the latest i2csim.DefaultLogLimit (1024) transactions unless
// SetLogLimit says otherwise, and Transactions counts them all.
// ChargeBusTime makes each transfer done on a loop advance its virtual
// clock by the transfer's bus time at the speed SetSpeed sets (100 kHz by
// default), so that a driver holding the loop through slow transfers
// shows in the loop's hog stats. Misuse
// of the chip — writing a read-only or reserved register, a transfer with
// no register address, running past the register map — fails the
// transaction and is listed by Violations.
//
// A Sensor is safe for use from several goroutines (the driver's
// loop.Offload transfers). It must not be used with real hardware.
package adxl345test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
)

// ErrNACK is the error of a transaction the simulated chip does not
// acknowledge, as Linux's i2c-dev reports it ("remote I/O error").
var ErrNACK = errors.New("adxl345test: address not acknowledged (remote I/O error)")

// TurnOnTime is the wake-up time from standby the simulation uses, the
// datasheet's typical value; the first sample follows a sample period later.
const TurnOnTime = 1100 * time.Microsecond

// Op is one logged transaction: At, when it happened; Addr; W, what was
// written, and R, what was read (nil on failure); Err, its error. Its
// String shows the bytes, e.g. "W[e7] R[02]", and " NACK" after a failure.
type Op = i2csim.Op

const numRegs = adxl345.RegFIFOStatus + 1

// Sensor is a simulated ADXL345: an i2c.Bus with the chip at one address.
// Besides its own methods it has the chip's common ones: Tx, SetSpeed,
// ChargeBusTime, FailNext, SetPresent, PowerCycle (back to standby and the
// power-up registers, the data registers reading zero, without a failed
// transaction), SetLogLimit, Ops, Transactions and Violations.
type Sensor struct {
	*i2csim.Chip

	mu  sync.Mutex
	now func() time.Time
	rec *i2csim.Recorder

	regs       [numRegs]byte
	devID      byte
	signal     func(time.Time) adxl345.Vector
	measuring  bool
	firstReady time.Time // when the first sample since Measure is ready

	fifo  [][6]byte // the FIFO's samples, oldest first, as the data registers read them
	nextK int64     // the index, from firstReady, of the next sample the FIFO takes
}

// New returns a chip at addr (adxl345.AddressAltLow or AddressAltHigh) in
// its power-up state, lying flat: 0, 0, +1 g. now is the clock the
// sampling runs on; nil makes a sample ready as soon as Measure is set,
// and always the signal's value at the zero time.
func New(addr uint16, now func() time.Time) *Sensor {
	s := &Sensor{now: now, devID: adxl345.DeviceID, rec: i2csim.NewRecorder(ErrNACK)}
	s.signal = func(time.Time) adxl345.Vector { return adxl345.Vector{Z: 1} }
	s.powerUp()
	s.Chip = i2csim.NewChip(&s.mu, addr, now, ErrNACK, s.rec, s.tx, s.powerUp)
	return s
}

// powerUp resets the registers to the datasheet's values: 0 except DEVID
// and BW_RATE (100 Hz); standby.
func (s *Sensor) powerUp() {
	s.regs = [numRegs]byte{}
	s.regs[adxl345.RegBWRate] = byte(adxl345.Rate100Hz)
	s.measuring = false
	s.fifo, s.nextK = nil, 0
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return "adxl345test" }

// SetAccel sets a constant acceleration, in g.
func (s *Sensor) SetAccel(v adxl345.Vector) {
	s.SetSignal(func(time.Time) adxl345.Vector { return v })
}

// SetSignal sets the acceleration as a function of time, in g; the chip
// samples it at its data rate. f is called with the sensor's lock held
// and must not call the sensor.
func (s *Sensor) SetSignal(f func(at time.Time) adxl345.Vector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signal = f
}

// SetDeviceID makes DEVID read id: another chip at the address.
func (s *Sensor) SetDeviceID(id byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devID = id
}

// Register returns a register's content (DEVID included).
func (s *Sensor) Register(reg byte) byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reg == adxl345.RegDevID {
		return s.devID
	}
	if int(reg) >= numRegs {
		return 0
	}
	return s.regs[reg]
}

func (s *Sensor) tx(now time.Time, w, r []byte) error {
	switch {
	case len(w) == 0:
		return s.violation(fmt.Sprintf("%d-byte read without a register address", len(r)))
	case len(w) > 1 && len(r) > 0:
		return s.violation(fmt.Sprintf("write W[% x] combined with a %d-byte read", w, len(r)))
	}
	reg := int(w[0])
	if n := max(len(w)-1, len(r)); reg+n > numRegs {
		return s.violation(fmt.Sprintf("%d registers from %#02x run past FIFO_STATUS (0x39)", n, reg))
	}
	for i, v := range w[1:] {
		if err := s.write(now, reg+i, v); err != nil {
			return err
		}
	}
	if len(r) > 0 {
		s.sample(now)
		s.regs[adxl345.RegFIFOStatus] = 0
		if s.fifoMode() != adxl345.FIFOBypass {
			s.collect(now)
			s.regs[adxl345.RegFIFOStatus] = byte(len(s.fifo))
			if reg <= adxl345.RegDataZ1 && reg+len(r) > adxl345.RegDataX0 && len(s.fifo) > 0 {
				// The read takes the oldest sample; the registers show it.
				copy(s.regs[adxl345.RegDataX0:], s.fifo[0][:])
				s.fifo = s.fifo[1:]
			}
		}
		for i := range r {
			r[i] = s.regs[reg+i]
			if reg+i == adxl345.RegDevID {
				r[i] = s.devID
			}
		}
	}
	return nil
}

func writable(reg int) bool {
	switch {
	case reg >= adxl345.RegThreshTap && reg <= adxl345.RegTapAxes:
		return true
	case reg >= adxl345.RegBWRate && reg <= adxl345.RegIntMap:
		return true
	}
	return reg == adxl345.RegDataFormat || reg == adxl345.RegFIFOCtl
}

func (s *Sensor) write(now time.Time, reg int, v byte) error {
	if !writable(reg) {
		return s.violation(fmt.Sprintf("write %#02x to register %#02x, which is read-only or reserved", v, reg))
	}
	if reg == adxl345.RegFIFOCtl {
		s.collect(now) // what the old mode kept stays
		if v&adxl345.FIFOModeMask == adxl345.FIFOBypass {
			s.fifo = nil // bypass clears the FIFO
		}
		s.nextK = s.lastIndex(now) + 1 // a new mode collects from the next sample on
	}
	s.regs[reg] = v
	if reg == adxl345.RegPowerCtl {
		measure := v&adxl345.PowerMeasure != 0
		if measure && !s.measuring {
			s.firstReady = now.Add(TurnOnTime + s.samplePeriod())
			s.nextK = 0
		}
		s.measuring = measure
	}
	return nil
}

func (s *Sensor) fifoMode() byte { return s.regs[adxl345.RegFIFOCtl] & adxl345.FIFOModeMask }

// lastIndex is the index of the latest sample taken by now (−1: none yet).
func (s *Sensor) lastIndex(now time.Time) int64 {
	if !s.measuring || s.now == nil || now.Before(s.firstReady) {
		return -1
	}
	return int64(now.Sub(s.firstReady) / s.samplePeriod())
}

// collect adds the samples taken since the last collect to the FIFO, in
// its modes other than bypass. Without a clock there is always one.
func (s *Sensor) collect(now time.Time) {
	mode := s.fifoMode()
	if !s.measuring || mode == adxl345.FIFOBypass {
		return
	}
	if s.now == nil {
		if len(s.fifo) == 0 {
			s.fifo = append(s.fifo, s.encode(time.Time{}))
		}
		return
	}
	last := s.lastIndex(now)
	from := s.nextK
	if mode == adxl345.FIFOStream {
		from = max(from, last-adxl345.FIFOSize+1) // older ones would be dropped anyway
	}
	period := s.samplePeriod()
	for k := from; k <= last; k++ {
		if len(s.fifo) == adxl345.FIFOSize {
			if mode != adxl345.FIFOStream {
				break // FIFO mode: full, it stops
			}
			s.fifo = s.fifo[1:]
		}
		s.fifo = append(s.fifo, s.encode(s.firstReady.Add(time.Duration(k)*period)))
	}
	s.nextK = max(s.nextK, last+1)
}

// encode returns the data registers' bytes for the signal at at, in the
// DATA_FORMAT in force.
func (s *Sensor) encode(at time.Time) (b [6]byte) {
	v := s.signal(at)
	f := adxl345.FormatOf(s.regs[adxl345.RegDataFormat])
	for i, g := range []float64{v.X, v.Y, v.Z} {
		b[2*i], b[2*i+1] = Encode(f, g)
	}
	return b
}

func (s *Sensor) samplePeriod() time.Duration {
	return time.Duration(float64(time.Second) / adxl345.RateOf(s.regs[adxl345.RegBWRate]).Hz())
}

// sample loads the data registers with the latest sample, if measuring.
func (s *Sensor) sample(now time.Time) {
	if !s.measuring {
		return // standby: the registers keep what they hold
	}
	at := time.Time{}
	if s.now != nil {
		if now.Before(s.firstReady) {
			return
		}
		period := s.samplePeriod()
		at = s.firstReady.Add(now.Sub(s.firstReady) / period * period)
	}
	b := s.encode(at)
	copy(s.regs[adxl345.RegDataX0:], b[:])
}

// Encode returns the register pair (DATAx0, DATAx1) the chip reports for
// an acceleration of g in format f: rounded to a count, saturated at the
// range, justified.
func Encode(f adxl345.Format, g float64) (lo, hi byte) {
	bits := f.Bits()
	limit := float64(int(1) << (bits - 1))
	n := math.Round(g * 1000 / f.MilliGPerLSB())
	if math.IsNaN(n) {
		n = 0
	}
	n = min(max(n, -limit), limit-1)
	u := uint16(int16(n))
	if f.LeftJustify {
		u <<= 16 - bits
	}
	return byte(u), byte(u >> 8)
}

func (s *Sensor) violation(what string) error { return s.rec.Violation(what) }
