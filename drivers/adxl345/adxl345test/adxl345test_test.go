package adxl345test_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/adxl345/adxl345test"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func write(t *testing.T, s *adxl345test.Sensor, reg, v byte) {
	t.Helper()
	if err := s.Tx(adxl345.AddressAltLow, []byte{reg, v}, nil); err != nil {
		t.Fatalf("write %#02x to %#02x: %v", v, reg, err)
	}
}

func read(t *testing.T, s *adxl345test.Sensor, reg byte, n int) []byte {
	t.Helper()
	r := make([]byte, n)
	if err := s.Tx(adxl345.AddressAltLow, []byte{reg}, r); err != nil {
		t.Fatalf("read %d from %#02x: %v", n, reg, err)
	}
	return r
}

// Samples come only in measurement mode, the turn-on time plus a sample
// period after it starts, then once per sample period: the signal is
// sampled at those instants.
func TestSampling(t *testing.T) {
	c := &clock{}
	s := adxl345test.New(adxl345.AddressAltLow, c.now)
	start := c.t
	s.SetSignal(func(at time.Time) adxl345.Vector { return adxl345.Vector{X: at.Sub(start).Seconds()} })
	if id := read(t, s, adxl345.RegDevID, 1); id[0] != adxl345.DeviceID {
		t.Fatalf("DEVID %#02x", id[0])
	}
	if b := read(t, s, adxl345.RegBWRate, 1); b[0] != 0x0A {
		t.Fatalf("BW_RATE at power-up %#02x, want 0x0a", b[0])
	}
	write(t, s, adxl345.RegDataFormat, 0x0B) // full resolution, ±16 g
	write(t, s, adxl345.RegBWRate, byte(adxl345.Rate12_5Hz))
	c.add(time.Second)
	if b := read(t, s, adxl345.RegDataX0, 6); string(b) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("standby: % x, want zeros", b)
	}
	write(t, s, adxl345.RegPowerCtl, adxl345.PowerMeasure) // at 1 s
	f := adxl345.FormatOf(0x0B)
	x := func() float64 {
		v, err := adxl345.ParseSample(read(t, s, adxl345.RegDataX0, 6), f)
		if err != nil {
			t.Fatal(err)
		}
		return v.X
	}
	c.add(adxl345test.TurnOnTime + 80*time.Millisecond - 1)
	if got := x(); got != 0 {
		t.Errorf("before the first sample: %v g", got)
	}
	c.add(1) // the first sample: 1.0811 s
	if got, want := x(), 1.0811; got < want-0.004 || got > want+0.004 {
		t.Errorf("first sample %v g, want %v", got, want)
	}
	c.add(79 * time.Millisecond) // still the first sample
	if got, want := x(), 1.0811; got < want-0.004 || got > want+0.004 {
		t.Errorf("between samples %v g, want %v", got, want)
	}
	c.add(time.Millisecond) // the second
	if got, want := x(), 1.1611; got < want-0.004 || got > want+0.004 {
		t.Errorf("second sample %v g, want %v", got, want)
	}
}

func TestEncode(t *testing.T) {
	for _, c := range []struct {
		f      adxl345.Format
		g      float64
		lo, hi byte
	}{
		{adxl345.Format{Range: adxl345.Range2G}, 1, 0x00, 0x01},
		{adxl345.Format{Range: adxl345.Range2G}, -1, 0x00, 0xFF},
		{adxl345.Format{Range: adxl345.Range2G}, 5, 0xFF, 0x01},  // saturated at 511
		{adxl345.Format{Range: adxl345.Range2G}, -5, 0x00, 0xFE}, // at -512
		{adxl345.Format{Range: adxl345.Range16G, FullResolution: true, LeftJustify: true}, 1, 0x00, 0x08},
	} {
		lo, hi := adxl345test.Encode(c.f, c.g)
		if lo != c.lo || hi != c.hi || c.f.G(c.f.Counts(lo, hi)) != min(max(c.g, -float64(c.f.Range.G())), 511.0/256) {
			t.Errorf("Encode(%+v, %v) = %02x %02x, want %02x %02x", c.f, c.g, lo, hi, c.lo, c.hi)
		}
	}
}

func TestViolationsAndFaults(t *testing.T) {
	s := adxl345test.New(adxl345.AddressAltLow, nil)
	for _, c := range []struct {
		w    []byte
		n    int
		want string
	}{
		{[]byte{adxl345.RegDataX0, 1}, 0, "write 0x01 to register 0x32, which is read-only or reserved"},
		{[]byte{0x05, 1}, 0, "write 0x01 to register 0x05, which is read-only or reserved"},
		{nil, 6, "6-byte read without a register address"},
		{[]byte{adxl345.RegFIFOStatus}, 2, "2 registers from 0x39 run past FIFO_STATUS (0x39)"},
		{[]byte{adxl345.RegPowerCtl, 8}, 1, "write W[2d 08] combined with a 1-byte read"},
	} {
		var r []byte
		if c.n > 0 {
			r = make([]byte, c.n)
		}
		err := s.Tx(adxl345.AddressAltLow, c.w, r)
		if !errors.Is(err, adxl345test.ErrNACK) || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("Tx(% x, %d): %v, want %q", c.w, c.n, err, c.want)
		}
	}
	if err := s.Tx(adxl345.AddressAltHigh, []byte{0}, make([]byte, 1)); !errors.Is(err, adxl345test.ErrNACK) {
		t.Errorf("wrong address: %v", err)
	}
	s.FailNext(1)
	if err := s.Tx(adxl345.AddressAltLow, []byte{0}, make([]byte, 1)); !errors.Is(err, adxl345test.ErrNACK) {
		t.Errorf("FailNext: %v", err)
	}
	write(t, s, adxl345.RegPowerCtl, adxl345.PowerMeasure)
	s.SetPresent(false)
	if err := s.Tx(adxl345.AddressAltLow, []byte{0}, make([]byte, 1)); !errors.Is(err, adxl345test.ErrNACK) {
		t.Errorf("absent: %v", err)
	}
	s.SetPresent(true) // a power-up: standby again
	if s.Register(adxl345.RegPowerCtl) != 0 || s.Register(adxl345.RegBWRate) != 0x0A {
		t.Errorf("after reconnecting: POWER_CTL %#02x, BW_RATE %#02x", s.Register(adxl345.RegPowerCtl), s.Register(adxl345.RegBWRate))
	}
	if len(s.Violations()) != 5 || len(s.Ops()) != 9 {
		t.Errorf("%d violations, %d ops", len(s.Violations()), len(s.Ops()))
	}
}

// In stream mode the FIFO keeps the samples since the mode was set, the
// latest 32 once full; FIFO_STATUS counts them and each data read takes
// the oldest. FIFO mode keeps the first 32 and stops; bypass empties it.
func TestFIFO(t *testing.T) {
	c := &clock{}
	s := adxl345test.New(adxl345.AddressAltLow, c.now)
	start := c.t
	// X is the sample's time in seconds since the start: 1 s is 256 counts.
	s.SetSignal(func(at time.Time) adxl345.Vector { return adxl345.Vector{X: at.Sub(start).Seconds()} })
	f := adxl345.FormatOf(0x0B) // full resolution, ±16 g
	write(t, s, adxl345.RegDataFormat, 0x0B)
	write(t, s, adxl345.RegBWRate, byte(adxl345.Rate12_5Hz)) // a sample every 80 ms
	write(t, s, adxl345.RegFIFOCtl, adxl345.FIFOStream)
	write(t, s, adxl345.RegPowerCtl, adxl345.PowerMeasure) // first sample at 81.1 ms
	entries := func() int { return int(read(t, s, adxl345.RegFIFOStatus, 1)[0] & adxl345.FIFOEntriesMask) }
	drain := func() (ms []int) {
		for n := entries(); n > 0; n-- {
			v, err := adxl345.ParseSample(read(t, s, adxl345.RegDataX0, 6), f)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, int(v.X*1000+0.5)) // the sample's time, in ms, to a count's 3.9 ms
		}
		return ms
	}
	c.add(time.Second)
	got := drain()
	if len(got) != 12 || got[0] < 78 || got[0] > 85 || got[11] < 958 || got[11] > 965 || entries() != 0 {
		t.Fatalf("after 1 s: %d samples %v; want 12, from 81 ms to 961 ms every 80 ms, then none", len(got), got)
	}
	c.add(5 * time.Second) // 62 more samples, to 5921 ms: the latest 32 kept
	got = drain()
	if len(got) != adxl345.FIFOSize || got[31] < 5918 || got[31] > 5925 || got[31]-got[0] < 2470 || got[31]-got[0] > 2490 {
		t.Fatalf("after an overflow: %d samples from %d to %d ms; want the latest 32, ending at 5921 ms", len(got), got[0], got[len(got)-1])
	}
	write(t, s, adxl345.RegFIFOCtl, adxl345.FIFOCollect)
	c.add(5 * time.Second)
	got = drain()
	if len(got) != adxl345.FIFOSize || got[0] < 5998 || got[0] > 6005 {
		t.Fatalf("FIFO mode: %d samples from %d ms; want the first 32 from 6001 ms", len(got), got[0])
	}
	c.add(time.Second)
	write(t, s, adxl345.RegFIFOCtl, adxl345.FIFOBypass)
	if n := entries(); n != 0 {
		t.Errorf("bypass: %d entries, want 0", n)
	}
}
