package htu21dtest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
)

// clock is a hand-moved clock for the simulator.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                { return c.t }
func (c *clock) add(d time.Duration)           { c.t = c.t.Add(d) }
func tx(s *htu21dtest.Sensor, w ...byte) error { return s.Tx(htu21d.Address, w, nil) }

func TestConversionTimeAndNACKs(t *testing.T) {
	c := &clock{}
	s := htu21dtest.New(c.now)
	s.Set(24.7, 32.3)
	r := make([]byte, 3)
	if err := tx(s, htu21d.TriggerTemperatureNoHold); err != nil {
		t.Fatal(err)
	}
	c.add(50*time.Millisecond - 1)
	if err := s.Tx(htu21d.Address, nil, r); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Fatalf("read 1 ns before the end of the conversion: %v, want a NACK", err)
	}
	c.add(1)
	if err := s.Tx(htu21d.Address, nil, r); err != nil {
		t.Fatalf("read at the end of the conversion: %v", err)
	}
	raw, err := htu21d.ParseReading(r)
	if err != nil || raw&3 != 0 || !near(htu21d.Celsius(raw), 24.7, 0.01) {
		t.Fatalf("temperature % x: 0x%04x, %v", r, raw, err)
	}
	// Nothing left to read.
	if err := s.Tx(htu21d.Address, nil, r); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Fatalf("second read: %v, want a NACK", err)
	}
	// Humidity: 16 ms, status bit 1 set.
	if err := tx(s, htu21d.TriggerHumidityNoHold); err != nil {
		t.Fatal(err)
	}
	c.add(16 * time.Millisecond)
	if err := s.Tx(htu21d.Address, nil, r); err != nil {
		t.Fatal(err)
	}
	if raw, err = htu21d.ParseReading(r); err != nil || raw&3 != 2 || !near(htu21d.Humidity(raw), 32.3, 0.03) {
		t.Fatalf("humidity % x: 0x%04x, %v", r, raw, err)
	}
	if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], "no measurement to read") {
		t.Errorf("violations %q", v)
	}
}

func TestUserRegisterAndReset(t *testing.T) {
	c := &clock{}
	s := htu21dtest.New(c.now)
	s.SetUserRegister(0x3A) // reserved bits set
	r := make([]byte, 1)
	if err := s.Tx(htu21d.Address, []byte{htu21d.ReadUserRegister}, r); err != nil || r[0] != 0x3A {
		t.Fatalf("read register: %#02x, %v", r[0], err)
	}
	// Clearing a reserved bit is refused.
	if err := tx(s, htu21d.WriteUserRegister, 0x03); !errors.Is(err, htu21dtest.ErrNACK) || s.UserRegister() != 0x3A {
		t.Fatalf("write 0x03 over 0x3a: %v, register %#02x", err, s.UserRegister())
	}
	if err := tx(s, htu21d.WriteUserRegister, 0x3B|htu21d.Heater); err != nil || s.UserRegister() != 0x3F {
		t.Fatalf("write 0x3f: %v, register %#02x", err, s.UserRegister())
	}
	// 0x3f selects RH 8 bit, T 12 bit: 13 ms, during which the chip
	// acknowledges nothing.
	if err := tx(s, htu21d.TriggerTemperatureNoHold); err != nil {
		t.Fatal(err)
	}
	c.add(13*time.Millisecond - 1)
	if err := tx(s, htu21d.SoftReset); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Fatalf("reset during a conversion: %v, want a NACK", err)
	}
	c.add(1)
	// A reset restores the default resolution, keeps heater and reserved
	// bits, and silences the chip for 15 ms.
	if err := tx(s, htu21d.SoftReset); err != nil {
		t.Fatal(err)
	}
	if s.UserRegister() != 0x3E {
		t.Errorf("register after reset %#02x, want 0x3e", s.UserRegister())
	}
	c.add(15*time.Millisecond - 1)
	if err := s.Tx(htu21d.Address, []byte{htu21d.ReadUserRegister}, r); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Errorf("read during reset: %v, want a NACK", err)
	}
	c.add(1)
	if err := s.Tx(htu21d.Address, []byte{htu21d.ReadUserRegister}, r); err != nil || r[0] != 0x3E {
		t.Errorf("read after reset: %#02x, %v", r[0], err)
	}
	if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], "changes reserved or read-only bits 0x38") {
		t.Errorf("violations %q", v)
	}
}

func TestFaults(t *testing.T) {
	s := htu21dtest.New(nil) // conversions finish at once
	r := make([]byte, 3)
	if err := s.Tx(0x41, []byte{htu21d.SoftReset}, nil); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Errorf("wrong address: %v", err)
	}
	s.FailNext(2)
	for i := range 3 {
		err := tx(s, htu21d.TriggerTemperatureNoHold)
		if (i < 2) != errors.Is(err, htu21dtest.ErrNACK) {
			t.Errorf("transaction %d after FailNext(2): %v", i, err)
		}
	}
	s.CorruptNext(htu21dtest.FlipCRC(0))
	if err := s.Tx(htu21d.Address, nil, r); err != nil {
		t.Fatal(err)
	}
	if _, err := htu21d.ParseReading(r); !errors.Is(err, htu21d.ErrCRC) {
		t.Errorf("corrupted reading % x: %v", r, err)
	}
	s.SetPresent(false)
	if err := tx(s, htu21d.SoftReset); !errors.Is(err, htu21dtest.ErrNACK) {
		t.Errorf("absent chip: %v", err)
	}
	s.SetPresent(true)
	if err := tx(s, 0x99); !errors.Is(err, htu21dtest.ErrNACK) || len(s.Violations()) != 1 {
		t.Errorf("unknown command: %v, violations %q", err, s.Violations())
	}
	if got := fmt.Sprint(s.Ops()[0]); got != "W[fe] NACK" {
		t.Errorf("first op %q", got)
	}
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// SetRaw results are read exactly, whatever the resolution and the kind
// of measurement; Set quantises again. CorruptNext applies its
// corruptions in order, one per result, nil leaving one alone.
func TestSetRawAndCorruptions(t *testing.T) {
	s := htu21dtest.New(nil)
	s.SetUserRegister(htu21d.WithResolution(htu21d.DefaultUserRegister, htu21d.RH8T12))
	read := func(cmd byte) []byte {
		r := make([]byte, 3)
		if err := tx(s, cmd); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(htu21d.Address, nil, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	s.SetRaw(0x1235, 0xABCD)
	got := fmt.Sprintf("% x|% x", read(htu21d.TriggerTemperatureNoHold)[:2], read(htu21d.TriggerHumidityNoHold)[:2])
	s.Set(25, 50) // quantised to 12 and 8 bits, humidity's status bit set
	got += fmt.Sprintf("|% x|% x", read(htu21d.TriggerTemperatureNoHold)[:2], read(htu21d.TriggerHumidityNoHold)[:2])
	if want := "12 35|ab cd|68 a0|72 02"; got != want {
		t.Errorf("results %s, want %s", got, want)
	}

	s.CorruptNext(htu21dtest.FlipCRC(7), nil, htu21dtest.FlipData(15))
	var errs []string
	for range 4 {
		_, err := htu21d.ParseReading(read(htu21d.TriggerTemperatureNoHold))
		errs = append(errs, fmt.Sprint(errors.Is(err, htu21d.ErrCRC)))
	}
	if fmt.Sprint(errs) != "[true false true false]" {
		t.Errorf("CRC errors of four results: %v, want [true false true false]", errs)
	}
}
