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
// be injected: NACKs, corrupted results (CorruptNext), an absent chip, a
// power cycle. SetRaw feeds exact raw readings.
//
// Every transaction is logged with the time it happened, read from the
// clock function given to New (a loop's VirtualClock.Now in tests, so the
// log shows exact virtual times); the log keeps the latest
// i2csim.DefaultLogLimit (1024) transactions unless SetLogLimit says
// otherwise, and Transactions counts them all. ChargeBusTime makes each
// transfer done on a loop advance its virtual clock by the transfer's bus
// time at the speed SetSpeed sets (100 kHz by default), so that a driver
// holding the loop through slow transfers shows in the loop's hog stats. Misuse of the chip — a command it does
// not know, a changed reserved bit, a read with nothing to read — fails the
// transaction and is listed by Violations.
//
// A Sensor is safe for use from several goroutines (the driver's
// loop.Offload transfers). It must not be used with real hardware.
package htu21dtest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/internal/i2csim"
)

// ErrNACK is the error of a transaction the simulated chip does not
// acknowledge, as Linux's i2c-dev reports it ("remote I/O error").
var ErrNACK = errors.New("htu21dtest: address not acknowledged (remote I/O error)")

// Op is one logged transaction: At, when it happened; Addr; W, what was
// written, and R, what was read (nil on failure); Err, its error. Its
// String shows the bytes, e.g. "W[e7] R[02]", and " NACK" after a failure.
type Op = i2csim.Op

// Bits of the user register the chip keeps to itself.
const (
	reservedBits = 0x38 // bits 5–3: must be written back as read
	readOnlyBits = htu21d.EndOfBattery
)

// A Corruption changes the three bytes of a measurement result — MSB, LSB,
// CRC — on their way to the driver, as a bus error would.
type Corruption func(result []byte)

// FlipCRC flips bit n (0–7) of the CRC byte.
func FlipCRC(n int) Corruption { return func(b []byte) { b[2] ^= 1 << (n & 7) } }

// FlipData flips bit n (0–15, 0 the LSB's lowest) of the two data bytes.
// The CRC no longer matches, unless the driver fails to check it.
func FlipData(n int) Corruption {
	return func(b []byte) { b[1-(n&15)/8] ^= 1 << (n & 7) }
}

// Sensor is a simulated HTU21D: an i2c.Bus with the chip at htu21d.Address.
// Besides its own methods it has the chip's common ones: Tx, SetSpeed,
// ChargeBusTime, FailNext, SetPresent, PowerCycle, SetLogLimit, Ops,
// Transactions and Violations.
type Sensor struct {
	*i2csim.Chip

	mu  sync.Mutex
	now func() time.Time
	rec *i2csim.Recorder

	rawT, rawH uint16
	exact      bool // rawT and rawH are read as they are: no quantising, no status bits
	reg        byte

	busyUntil time.Time
	pending   byte   // the trigger whose result waits to be read, or 0
	result    uint16 // its raw value, status bits set

	corrupt []Corruption // the next results' corruptions, in order
}

// New returns a sensor in its power-up state, reading 25 °C and 50 %RH.
// now is the clock the conversion times run on; nil makes every conversion
// finish at once.
func New(now func() time.Time) *Sensor {
	s := &Sensor{now: now, reg: htu21d.DefaultUserRegister, rec: i2csim.NewRecorder(ErrNACK)}
	s.rawT, s.rawH = rawFor(25, 50)
	s.Chip = i2csim.NewChip(&s.mu, htu21d.Address, now, ErrNACK, s.rec, s.tx, s.powerUp)
	return s
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return "htu21dtest" }

// Set makes the next measurements report celsius and rh (%), quantised to
// the resolution in force, with the status bits the chip sets, as the chip
// does.
func (s *Sensor) Set(celsius, rh float64) {
	t, h := rawFor(celsius, rh)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawT, s.rawH, s.exact = t, h, false
}

// SetRaw makes the next measurements read exactly these 16-bit values,
// status bits and all, with a correct CRC: the way to feed the driver a
// given raw reading (low bits set at a resolution that has none, a
// temperature's status bits on a humidity reading …). Set returns to
// values the chip would produce.
func (s *Sensor) SetRaw(temperature, humidity uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawT, s.rawH, s.exact = temperature, humidity, true
}

// rawFor inverts the datasheet's conversions.
func rawFor(celsius, rh float64) (uint16, uint16) {
	t := math.Round((celsius + 46.85) / 175.72 * 65536)
	h := math.Round((rh + 6) / 125 * 65536)
	return uint16(min(max(t, 0), 0xFFFF)), uint16(min(max(h, 0), 0xFFFF))
}

// CorruptNext corrupts the next measurement results read, one corruption
// each, in order: CorruptNext(FlipCRC(0)) breaks the next result's CRC,
// CorruptNext(FlipCRC(0), nil, FlipData(15)) the next and the third. A
// nil Corruption leaves that result alone.
func (s *Sensor) CorruptNext(c ...Corruption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = append([]Corruption(nil), c...)
}

// powerUp restores the power-up state: the user register's default (its
// reserved bits kept), nothing pending. It is called with mu held.
func (s *Sensor) powerUp() {
	s.reg = s.reg&reservedBits | htu21d.DefaultUserRegister
	s.pending, s.busyUntil = 0, time.Time{}
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

func (s *Sensor) tx(now time.Time, w, r []byte) error {
	switch {
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
	if s.exact {
		s.result = raw
	}
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
	if len(s.corrupt) > 0 {
		if c := s.corrupt[0]; c != nil {
			c(b)
		}
		s.corrupt = s.corrupt[1:]
	}
	copy(r, b)
	s.pending = 0
	return nil
}

func (s *Sensor) violation(what string) error { return s.rec.Violation(what) }
