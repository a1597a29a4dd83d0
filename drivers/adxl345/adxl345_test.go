package adxl345_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
)

func TestCheckDeviceID(t *testing.T) {
	if err := adxl345.CheckDeviceID(0xE5); err != nil {
		t.Errorf("CheckDeviceID(0xe5) = %v", err)
	}
	err := adxl345.CheckDeviceID(0x00)
	const want = "adxl345: wrong device id: register 0x00 reads 0x00, want 0xe5"
	if !errors.Is(err, adxl345.ErrDeviceID) || err.Error() != want {
		t.Errorf("CheckDeviceID(0x00) = %v, want %q", err, want)
	}
}

func TestRegisterMap(t *testing.T) {
	// Spot checks against the datasheet's register map.
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"DEVID", adxl345.RegDevID, 0x00},
		{"THRESH_TAP", adxl345.RegThreshTap, 0x1D},
		{"BW_RATE", adxl345.RegBWRate, 0x2C},
		{"POWER_CTL", adxl345.RegPowerCtl, 0x2D},
		{"INT_SOURCE", adxl345.RegIntSource, 0x30},
		{"DATA_FORMAT", adxl345.RegDataFormat, 0x31},
		{"DATAX0", adxl345.RegDataX0, 0x32},
		{"DATAZ1", adxl345.RegDataZ1, 0x37},
		{"FIFO_STATUS", adxl345.RegFIFOStatus, 0x39},
	} {
		if c.got != c.want {
			t.Errorf("%s = 0x%02x, want 0x%02x", c.name, c.got, c.want)
		}
	}
}

func TestRange(t *testing.T) {
	for r, want := range map[adxl345.Range]string{
		adxl345.Range2G: "±2 g", adxl345.Range4G: "±4 g", adxl345.Range8G: "±8 g", adxl345.Range16G: "±16 g",
	} {
		if r.String() != want {
			t.Errorf("Range %d = %q, want %q", r, r, want)
		}
	}
}

func TestFormatByte(t *testing.T) {
	for b := range 16 {
		f := adxl345.Format{Range: adxl345.Range(b & 3), FullResolution: b&4 != 0, LeftJustify: b&8 != 0}
		want := byte(b&3) | byte(b&4)<<1 | byte(b&8)>>1 // FULL_RES is bit 3, JUSTIFY bit 2
		if got := f.Byte(); got != want || adxl345.FormatOf(got) != f {
			t.Errorf("%#v.Byte() = 0x%02x, want 0x%02x; FormatOf gives %#v", f, got, want, adxl345.FormatOf(got))
		}
	}
	f := adxl345.FormatOf(0xFF) // every bit set: other bits ignored
	if f != (adxl345.Format{Range: adxl345.Range16G, FullResolution: true, LeftJustify: true}) || f.Byte() != 0x0F {
		t.Errorf("FormatOf(0xff) = %#v, Byte 0x%02x", f, f.Byte())
	}
	if b := (adxl345.Format{Range: adxl345.Range4G, FullResolution: true}).Byte(); b != 0x09 {
		t.Errorf("full resolution ±4 g = 0x%02x, want 0x09", b)
	}
}

// TestScales checks bits and scale factors against the datasheet's
// specifications table: 3.9, 7.8, 15.6, 31.2 mg/LSB in 10-bit mode and
// 3.9 mg/LSB with 10–13 bits in full resolution. The package uses the exact
// 1/256 g the datasheet's 256 LSB/g sensitivity gives, so "3.9" is met to
// rounding (0.2 %), far inside the part's ±10 % sensitivity tolerance.
func TestScales(t *testing.T) {
	for _, c := range []struct {
		f         adxl345.Format
		bits      int
		datasheet float64
	}{
		{adxl345.Format{Range: adxl345.Range2G}, 10, 3.9},
		{adxl345.Format{Range: adxl345.Range4G}, 10, 7.8},
		{adxl345.Format{Range: adxl345.Range8G}, 10, 15.6},
		{adxl345.Format{Range: adxl345.Range16G}, 10, 31.2},
		{adxl345.Format{Range: adxl345.Range2G, FullResolution: true}, 10, 3.9},
		{adxl345.Format{Range: adxl345.Range4G, FullResolution: true}, 11, 3.9},
		{adxl345.Format{Range: adxl345.Range8G, FullResolution: true}, 12, 3.9},
		{adxl345.Format{Range: adxl345.Range16G, FullResolution: true}, 13, 3.9},
	} {
		s := c.f.MilliGPerLSB()
		if c.f.Bits() != c.bits || math.Abs(s-c.datasheet)/c.datasheet > 0.002 {
			t.Errorf("%#v: %d bits, %v mg/LSB; want %d, %v", c.f, c.f.Bits(), s, c.bits, c.datasheet)
		}
		// The extreme counts span the range: -full scale .. just under it.
		lo, hi := -(1 << (c.bits - 1)), 1<<(c.bits-1)-1
		if g := c.f.G(int16(lo)); g != -float64(c.f.Range.G()) {
			t.Errorf("%#v: lowest count %d is %v g, want -%d", c.f, lo, g, c.f.Range.G())
		}
		if g := c.f.G(int16(hi)); g >= float64(c.f.Range.G()) || g < float64(c.f.Range.G())*0.99 {
			t.Errorf("%#v: highest count %d is %v g, want just under %d", c.f, hi, g, c.f.Range.G())
		}
	}
}

func TestCounts(t *testing.T) {
	right2 := adxl345.Format{Range: adxl345.Range2G}
	full16 := adxl345.Format{Range: adxl345.Range16G, FullResolution: true}
	left16 := adxl345.Format{Range: adxl345.Range16G, FullResolution: true, LeftJustify: true}
	left2 := adxl345.Format{Range: adxl345.Range2G, LeftJustify: true}
	for _, c := range []struct {
		name   string
		f      adxl345.Format
		lo, hi byte
		counts int16
		g      float64
	}{
		{"+1 g, 10-bit ±2 g", right2, 0x00, 0x01, 256, 1},
		{"-1 g, 10-bit ±2 g", right2, 0x00, 0xFF, -256, -1},
		{"max, 10-bit ±2 g", right2, 0xFF, 0x01, 511, 511.0 / 256},
		{"min, 10-bit ±2 g", right2, 0x00, 0xFE, -512, -2},
		{"stray high bits ignored", right2, 0x00, 0x11, 256, 1},
		{"+1 g, full ±16 g", full16, 0x00, 0x01, 256, 1},
		{"max, full ±16 g", full16, 0xFF, 0x0F, 4095, 4095.0 / 256},
		{"min, full ±16 g", full16, 0x00, 0xF0, -4096, -16},
		{"+1 g, left full ±16 g", left16, 0x00, 0x08, 256, 1},
		{"-1 g, left full ±16 g", left16, 0x00, 0xF8, -256, -1},
		{"+1 g, left 10-bit ±2 g", left2, 0x00, 0x40, 256, 1},
		{"-1 count, left 10-bit ±2 g", left2, 0xC0, 0xFF, -1, -1.0 / 256},
	} {
		n := c.f.Counts(c.lo, c.hi)
		if n != c.counts || c.f.G(n) != c.g {
			t.Errorf("%s: Counts(%02x, %02x) = %d (%v g), want %d (%v g)", c.name, c.lo, c.hi, n, c.f.G(n), c.counts, c.g)
		}
	}
}

// TestCountsRoundTrip encodes every count of every format the way the chip
// does and decodes it back.
func TestCountsRoundTrip(t *testing.T) {
	for b := range 16 {
		f := adxl345.Format{Range: adxl345.Range(b & 3), FullResolution: b&4 != 0, LeftJustify: b&8 != 0}
		bits := f.Bits()
		for n := -(1 << (bits - 1)); n < 1<<(bits-1); n++ {
			u := uint16(int16(n)) // right-justified, sign-extended
			if f.LeftJustify {
				u = uint16(n << (16 - bits))
			}
			if got := f.Counts(byte(u), byte(u>>8)); int(got) != n {
				t.Fatalf("%#v: count %d encoded as 0x%04x decodes to %d", f, n, u, got)
			}
		}
	}
}

func TestParseSample(t *testing.T) {
	// Lying flat: 0, 0, +1 g in full resolution.
	v, err := adxl345.ParseSample([]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x01}, adxl345.Format{Range: adxl345.Range16G, FullResolution: true})
	if err != nil || v != (adxl345.Vector{Z: 1}) || v.Magnitude() != 1 {
		t.Errorf("ParseSample(flat) = %v, %v", v, err)
	}
	_, err = adxl345.ParseSample([]byte{1, 2, 3, 4, 5}, adxl345.Format{})
	const want = "adxl345: wrong sample length: got 5 bytes [01 02 03 04 05], want 6 (DATAX0 to DATAZ1)"
	if !errors.Is(err, adxl345.ErrLength) || err.Error() != want {
		t.Errorf("ParseSample(5 bytes) = %v, want %q", err, want)
	}
}

func TestRate(t *testing.T) {
	for _, c := range []struct {
		r    adxl345.Rate
		code byte
		hz   float64
		name string
	}{
		{adxl345.Rate3200Hz, 0x0F, 3200, "3200 Hz"},
		{adxl345.Rate100Hz, 0x0A, 100, "100 Hz"},
		{adxl345.Rate12_5Hz, 0x07, 12.5, "12.5 Hz"},
		{adxl345.Rate3_13Hz, 0x05, 3.125, "3.13 Hz"},
		{adxl345.Rate0_20Hz, 0x01, 0.1953125, "0.20 Hz"},
		{adxl345.Rate0_10Hz, 0x00, 0.09765625, "0.10 Hz"},
	} {
		if byte(c.r) != c.code || c.r.Hz() != c.hz || c.r.BandwidthHz() != c.hz/2 || c.r.String() != c.name {
			t.Errorf("rate code 0x%02x: %v Hz, %q; want %v Hz, %q", byte(c.r), c.r.Hz(), c.r, c.hz, c.name)
		}
	}
	if r := adxl345.RateOf(0x1A); r != adxl345.Rate100Hz {
		t.Errorf("RateOf(0x1a) = %v, want 100 Hz (LOW_POWER bit ignored)", r)
	}
	for r := adxl345.Rate0_10Hz; r <= adxl345.Rate3200Hz; r++ {
		for _, hz := range []float64{r.Hz(), parseHz(t, r.String())} {
			if got, err := adxl345.RateFor(hz); err != nil || got != r {
				t.Errorf("RateFor(%v) = %v, %v; want %v", hz, got, err, r)
			}
		}
	}
	for _, hz := range []float64{0, 150, 3.2, 0.15, -100, math.NaN()} {
		if r, err := adxl345.RateFor(hz); !errors.Is(err, adxl345.ErrRate) {
			t.Errorf("RateFor(%v) = %v, %v; want ErrRate", hz, r, err)
		}
	}
}

func parseHz(t *testing.T, s string) float64 {
	var hz float64
	var unit string
	if _, err := fmt.Sscan(s, &hz, &unit); err != nil || unit != "Hz" {
		t.Fatalf("rate name %q: %v", s, err)
	}
	return hz
}

func FuzzParseSample(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1}, byte(0x0B))
	f.Add([]byte{0xFF, 0xFF, 0x00, 0x80, 0x12, 0x34}, byte(0x0F))
	f.Add([]byte{1, 2, 3}, byte(0))
	f.Fuzz(func(t *testing.T, b []byte, dataFormat byte) {
		format := adxl345.FormatOf(dataFormat)
		v, err := adxl345.ParseSample(b, format)
		if err != nil {
			if len(b) == 6 || !errors.Is(err, adxl345.ErrLength) {
				t.Fatalf("ParseSample(% x) = %v", b, err)
			}
			return
		}
		fs := float64(format.Range.G())
		for _, g := range []float64{v.X, v.Y, v.Z} {
			if g < -fs || g >= fs {
				t.Fatalf("ParseSample(% x, %#v) = %v: outside ±%v g", b, format, v, fs)
			}
		}
	})
}
