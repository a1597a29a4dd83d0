package htu21d_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/htu21d"
)

func TestCRC8DatasheetExamples(t *testing.T) {
	for _, c := range []struct {
		data []byte
		want byte
	}{
		{[]byte{0xDC}, 0x79},       // the datasheet's CRC walk-through
		{[]byte{0x68, 0x3A}, 0x7C}, // its temperature example (24.7 °C)
		{[]byte{0x4E, 0x85}, 0x6B}, // its humidity example (32.3 %RH)
		{nil, 0x00},
	} {
		if got := htu21d.CRC8(c.data); got != c.want {
			t.Errorf("CRC8(% x) = 0x%02x, want 0x%02x", c.data, got, c.want)
		}
	}
}

// TestCRC8Residue checks the property every non-reflected CRC without a
// final XOR has: data followed by its CRC checks to zero.
func TestCRC8Residue(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 0x40))
	for range 1000 {
		data := make([]byte, 1+rng.IntN(8))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if got := htu21d.CRC8(append(data, htu21d.CRC8(data))); got != 0 {
			t.Fatalf("CRC8(% x + its CRC) = 0x%02x, want 0", data, got)
		}
	}
}

func TestParseReading(t *testing.T) {
	raw, err := htu21d.ParseReading([]byte{0x68, 0x3A, 0x7C})
	if err != nil || raw != 0x683A {
		t.Fatalf("ParseReading(68 3a 7c) = 0x%04x, %v; want 0x683a", raw, err)
	}
	for _, c := range []struct {
		b    []byte
		err  error
		want string
	}{
		{[]byte{0x68, 0x3A, 0x7D}, htu21d.ErrCRC, "htu21d: CRC mismatch: reading 68 3a carries CRC 0x7d, computed 0x7c"},
		{[]byte{0x68, 0x3A}, htu21d.ErrLength, "htu21d: wrong reading length: got 2 bytes [68 3a], want 3 (MSB, LSB, CRC)"},
		{nil, htu21d.ErrLength, "htu21d: wrong reading length: got 0 bytes [], want 3 (MSB, LSB, CRC)"},
		{[]byte{1, 2, 3, 4}, htu21d.ErrLength, "htu21d: wrong reading length: got 4 bytes [01 02 03 04], want 3 (MSB, LSB, CRC)"},
	} {
		raw, err := htu21d.ParseReading(c.b)
		if !errors.Is(err, c.err) || err.Error() != c.want || raw != 0 {
			t.Errorf("ParseReading(% x) = 0x%04x, %q; want %q", c.b, raw, err, c.want)
		}
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestConversionsDatasheetExamples(t *testing.T) {
	if got := htu21d.Celsius(0x683A); !near(got, 24.69, 0.005) {
		t.Errorf("Celsius(0x683a) = %.4f, want 24.69 (datasheet: 24.7 °C)", got)
	}
	if got := htu21d.Humidity(0x4E85); !near(got, 32.34, 0.005) {
		t.Errorf("Humidity(0x4e85) = %.4f, want 32.34 (datasheet: 32.3 %%RH)", got)
	}
}

func TestConversionsMaskStatusBits(t *testing.T) {
	for s := range uint16(4) {
		if htu21d.Celsius(0x6838|s) != htu21d.Celsius(0x6838) {
			t.Errorf("Celsius depends on status bits %02b", s)
		}
		if htu21d.Humidity(0x4E84|s) != htu21d.Humidity(0x4E84) {
			t.Errorf("Humidity depends on status bits %02b", s)
		}
	}
}

func TestConversionRanges(t *testing.T) {
	if got := htu21d.Celsius(0); got != -46.85 {
		t.Errorf("Celsius(0) = %v, want -46.85", got)
	}
	if got := htu21d.Celsius(0xFFFF); !near(got, 128.86, 0.005) {
		t.Errorf("Celsius(0xffff) = %v, want 128.86", got)
	}
	if got := htu21d.Humidity(0); got != 0 {
		t.Errorf("Humidity(0) = %v, want 0 (clamped from -6)", got)
	}
	if got := htu21d.Humidity(0xFFFF); got != 100 {
		t.Errorf("Humidity(0xffff) = %v, want 100 (clamped from 118.99)", got)
	}
	// Monotonic and in range over every raw value.
	prevT, prevH := math.Inf(-1), math.Inf(-1)
	for raw := range 1 << 16 {
		c, h := htu21d.Celsius(uint16(raw)), htu21d.Humidity(uint16(raw))
		if c < prevT || h < prevH || h < 0 || h > 100 {
			t.Fatalf("raw 0x%04x: %v °C, %v %%RH after %v, %v", raw, c, h, prevT, prevH)
		}
		prevT, prevH = c, h
	}
}

func TestCompensatedHumidity(t *testing.T) {
	for _, c := range []struct{ rh, celsius, want float64 }{
		{50, 25, 50},
		{50, 45, 53},
		{50, 5, 47},
		{99, 80, 100}, // clamped
		{1, 0, 0},     // clamped
	} {
		if got := htu21d.CompensatedHumidity(c.rh, c.celsius); !near(got, c.want, 1e-9) {
			t.Errorf("CompensatedHumidity(%v, %v) = %v, want %v", c.rh, c.celsius, got, c.want)
		}
	}
}

func TestResolution(t *testing.T) {
	for _, c := range []struct {
		r             htu21d.Resolution
		rhBits, tBits int
		rhTime, tTime time.Duration
		name          string
	}{
		{htu21d.RH12T14, 12, 14, 16 * time.Millisecond, 50 * time.Millisecond, "RH 12 bit, T 14 bit"},
		{htu21d.RH8T12, 8, 12, 3 * time.Millisecond, 13 * time.Millisecond, "RH 8 bit, T 12 bit"},
		{htu21d.RH10T13, 10, 13, 5 * time.Millisecond, 25 * time.Millisecond, "RH 10 bit, T 13 bit"},
		{htu21d.RH11T11, 11, 11, 8 * time.Millisecond, 7 * time.Millisecond, "RH 11 bit, T 11 bit"},
	} {
		rh, tb := c.r.Bits()
		rhT, tT := c.r.MeasuringTime()
		if rh != c.rhBits || tb != c.tBits || rhT != c.rhTime || tT != c.tTime || c.r.String() != c.name {
			t.Errorf("%#02x: bits %d/%d, times %v/%v, %q; want %d/%d, %v/%v, %q",
				uint8(c.r), rh, tb, rhT, tT, c.r, c.rhBits, c.tBits, c.rhTime, c.tTime, c.name)
		}
	}
	if r := htu21d.ResolutionOf(htu21d.DefaultUserRegister); r != htu21d.RH12T14 {
		t.Errorf("default register resolution %v, want %v", r, htu21d.RH12T14)
	}
	// The datasheet's example: default register 0x02, switched to 8/12 bit.
	if got := htu21d.WithResolution(0x02, htu21d.RH8T12); got != 0x03 {
		t.Errorf("WithResolution(0x02, RH8T12) = %#02x, want 0x03", got)
	}
	for reg := range 256 {
		for _, r := range []htu21d.Resolution{htu21d.RH12T14, htu21d.RH8T12, htu21d.RH10T13, htu21d.RH11T11} {
			got := htu21d.WithResolution(byte(reg), r)
			if htu21d.ResolutionOf(got) != r || got&^0x81 != byte(reg)&^0x81 {
				t.Fatalf("WithResolution(%#02x, %v) = %#02x: changed other bits or missed", reg, r, got)
			}
		}
	}
}

func FuzzParseReading(f *testing.F) {
	f.Add([]byte{0x68, 0x3A, 0x7C})
	f.Add([]byte{0x4E, 0x85, 0x6B})
	f.Add([]byte{0x68, 0x3A, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := htu21d.ParseReading(b)
		if err != nil {
			if !errors.Is(err, htu21d.ErrCRC) && !errors.Is(err, htu21d.ErrLength) {
				t.Fatalf("ParseReading(% x): unexpected error %v", b, err)
			}
			return
		}
		if len(b) != 3 || htu21d.CRC8(b) != 0 || raw != uint16(b[0])<<8|uint16(b[1]) {
			t.Fatalf("ParseReading(% x) accepted 0x%04x", b, raw)
		}
		if h := htu21d.Humidity(raw); h < 0 || h > 100 {
			t.Fatalf("Humidity(0x%04x) = %v", raw, h)
		}
	})
}
