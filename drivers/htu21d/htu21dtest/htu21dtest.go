// Package htu21dtest simulates an HTU21D on an I2C bus, at the level of its
// commands and timing, for tests and demos of code that uses the htu21d
// driver without the chip.
//
// A Sensor implements i2c.Bus with one device on it, at htu21d.Address. It
// behaves as the datasheet describes: a no-hold trigger starts a conversion
// that lasts the resolution's maximum measuring time, during which the chip
// acknowledges nothing; the result is MSB, LSB (status bits: bit 1 set for
// humidity) and CRC; the user register's reserved bits must be written back
// unchanged; a soft reset takes 15 ms and restores the defaults. Faults can
// be injected: NACKs, corrupted CRCs, an absent chip.
//
// Every transaction is logged with the time it happened, read from the
// clock function given to New (a loop's VirtualClock.Now in tests, so the
// log shows exact virtual times). Misuse of the chip — a command it does
// not know, a changed reserved bit, a read with nothing to read — fails the
// transaction and is listed by Violations.
//
// A Sensor is safe for use from several goroutines (the driver's
// loop.Offload transfers). It must not be used with real hardware.
package htu21dtest

import (
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
)

// Error is the type of the simulated bus errors.
type Error string

func (e Error) Error() string { return string(e) }

// ErrNACK is the error of a transaction the simulated chip does not
// acknowledge, as Linux's i2c-dev reports it ("remote I/O error").
const ErrNACK Error = "htu21dtest: address not acknowledged (remote I/O error)"

// Op is one logged transaction: At, when it happened; Addr; W, what was
// written, and R, what was read (nil on failure); Err, its error. Its
// String shows the bytes, e.g. "W[e7] R[02]", and " NACK" after a failure.
type Op = i2csim.Op

// Bits of the user register the chip keeps to itself.
const (
	reservedBits = 0x38 // bits 5–3: must be written back as read
	readOnlyBits = htu21d.EndOfBattery
)

// Sensor is a simulated HTU21D: an i2c.Bus with the chip at htu21d.Address.
type Sensor struct {
	mu  sync.Mutex
	now func() time.Time

	rawT, rawH uint16
	reg        byte

	busyUntil time.Time
	pending   byte   // the trigger whose result waits to be read, or 0
	result    uint16 // its raw value, status bits set

	absent  bool
	corrupt int
	rec     *i2csim.Recorder // the log, violations and FailNext's NACKs
}

// New returns a sensor in its power-up state, reading 25 °C and 50 %RH.
// now is the clock the conversion times run on; nil makes every conversion
// finish at once.
func New(now func() time.Time) *Sensor {
	s := &Sensor{now: now, reg: htu21d.DefaultUserRegister, rec: i2csim.NewRecorder(ErrNACK)}
	s.rawT, s.rawH = rawFor(25, 50)
	return s
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return "htu21dtest" }

// SetSpeed implements i2c.Bus; the simulation has no speed.
func (s *Sensor) SetSpeed(physic.Frequency) error { return nil }

// Set makes the next measurements report celsius and rh (%), quantised the
// way the chip does.
func (s *Sensor) Set(celsius, rh float64) {
	t, h := rawFor(celsius, rh)
	s.SetRaw(t, h)
}

// SetRaw makes the next measurements report these raw values; the status
// bits and the bits below the resolution are replaced as the chip does.
func (s *Sensor) SetRaw(temperature, humidity uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawT, s.rawH = temperature, humidity
}

// rawFor inverts the datasheet's conversions.
func rawFor(celsius, rh float64) (uint16, uint16) {
	t := math.Round((celsius + 46.85) / 175.72 * 65536)
	h := math.Round((rh + 6) / 125 * 65536)
	return uint16(min(max(t, 0), 0xFFFF)), uint16(min(max(h, 0), 0xFFFF))
}

// FailNext makes the chip acknowledge none of the next n transactions.
func (s *Sensor) FailNext(n int) { s.rec.FailNext(n) }

// CorruptNext flips the lowest bit of the CRC byte of the next n
// measurement results read.
func (s *Sensor) CorruptNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = n
}

// SetPresent connects or disconnects the chip: an absent chip acknowledges
// nothing. Reconnecting it is a power-up: the user register returns to its
// default.
func (s *Sensor) SetPresent(present bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.absent && present {
		s.reg = s.reg&reservedBits | htu21d.DefaultUserRegister
		s.pending, s.busyUntil = 0, time.Time{}
	}
	s.absent = !present
}

// UserRegister returns the user register's content.
func (s *Sensor) UserRegister() byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reg
}

// SetUserRegister sets the user register, reserved and read-only bits
// included, as if the chip had powered up so.
func (s *Sensor) SetUserRegister(b byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg = b
}

// Ops returns a copy of the transaction log.
func (s *Sensor) Ops() []Op { return s.rec.Ops() }

// Violations lists the transactions that misused the chip, in order.
func (s *Sensor) Violations() []string { return s.rec.Violations() }

// Tx implements i2c.Bus.
func (s *Sensor) Tx(addr uint16, w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Tx(s.now, addr, w, r, s.tx)
}

func (s *Sensor) tx(now time.Time, addr uint16, w, r []byte) error {
	switch {
	case addr != htu21d.Address || s.absent:
		return ErrNACK
	case s.rec.TakeNACK():
		return ErrNACK
	case s.now != nil && now.Before(s.busyUntil):
		return ErrNACK // converting or resetting
	case len(w) == 0 && len(r) == 0:
		return s.violation("empty transaction")
	case len(w) == 0:
		return s.readResult(r)
	}
	switch cmd := w[0]; {
	case (cmd == htu21d.TriggerTemperatureNoHold || cmd == htu21d.TriggerHumidityNoHold) && len(w) == 1 && len(r) == 0:
		s.trigger(now, cmd)
	case cmd == htu21d.ReadUserRegister && len(w) == 1 && len(r) == 1:
		r[0] = s.reg
	case cmd == htu21d.WriteUserRegister && len(w) == 2 && len(r) == 0:
		v := w[1]
		if changed := (v ^ s.reg) & (reservedBits | readOnlyBits); changed != 0 {
			return s.violation(fmt.Sprintf("user register write %#02x changes reserved or read-only bits %#02x of %#02x", v, changed, s.reg))
		}
		s.reg = v
	case cmd == htu21d.SoftReset && len(w) == 1 && len(r) == 0:
		s.reg = s.reg&(reservedBits|htu21d.Heater) | htu21d.DefaultUserRegister
		s.pending = 0
		s.busyUntil = now.Add(htu21d.SoftResetTime)
	default:
		return s.violation(fmt.Sprintf("unsupported transaction W[% x] with a %d-byte read", w, len(r)))
	}
	return nil
}

// trigger starts a conversion: its result is fixed now, quantised to the
// resolution, and readable after the datasheet's measuring time.
func (s *Sensor) trigger(now time.Time, cmd byte) {
	res := htu21d.ResolutionOf(s.reg)
	rhBits, tBits := res.Bits()
	rhTime, tTime := res.MeasuringTime()
	raw, bits, wait, status := s.rawT, tBits, tTime, uint16(0)
	if cmd == htu21d.TriggerHumidityNoHold {
		raw, bits, wait, status = s.rawH, rhBits, rhTime, 0x02
	}
	s.pending = cmd
	s.result = raw&^(1<<(16-bits)-1) | status
	s.busyUntil = now.Add(wait)
}

func (s *Sensor) readResult(r []byte) error {
	if s.pending == 0 {
		return s.violation(fmt.Sprintf("%d-byte read with no measurement to read", len(r)))
	}
	if len(r) > 3 {
		return s.violation(fmt.Sprintf("%d-byte read of a 3-byte result", len(r)))
	}
	b := []byte{byte(s.result >> 8), byte(s.result), 0}
	b[2] = htu21d.CRC8(b[:2])
	if s.corrupt > 0 {
		s.corrupt--
		b[2] ^= 1
	}
	copy(r, b)
	s.pending = 0
	return nil
}

func (s *Sensor) violation(what string) error { return s.rec.Violation(what) }
