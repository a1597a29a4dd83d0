package drivers_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers"
	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/atmodem"
	"github.com/edgeagent/edgeagent/drivers/button"
	"github.com/edgeagent/edgeagent/drivers/contact"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/nec"
	"github.com/edgeagent/edgeagent/drivers/uart"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.golden")

// What the drivers' events and states look like on the wire (JSON, as the
// agent publishes them): lower-case keys and words, stable. A change here
// changes what users' automations see; the golden file makes it visible.
func TestWireFormat(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 250e6, time.UTC)
	nack := errors.New("remote I/O error")
	fault := drivers.Fault{Err: &drivers.DeviceError{Device: "htu21d 0x40 on I2C1", Op: "read temperature", Err: nack}, Failures: 2, RetryIn: 2 * time.Second}
	_, badStartErr := nec.Decode([]time.Duration{0, 3100 * time.Microsecond, 7600 * time.Microsecond}, false)
	_, overrunErr := nec.Decode(make([]time.Duration, 70), false)
	extended, _ := nec.Encode(nec.Frame{Address: 0x1234, Command: 0x42, Extended: true})
	_, badAddressErr := nec.Decode(extended, false)
	cases := []struct {
		name string
		v    any
	}{
		{"button press", button.Event{Kind: button.Press, Time: at}},
		{"button release", button.Event{Kind: button.Release, Time: at}},
		{"button double", button.Event{Kind: button.DoubleClick, Time: at}},
		{"button long", button.Event{Kind: button.LongPress, Time: at}},
		{"contact closed", contact.Event{Closed: true, Time: at}},
		{"contact opened", contact.Event{Closed: false, Time: at}},
		{"nec frame", nec.Received{Frame: nec.Frame{Address: 0x04, Command: 0x08}, Time: at, Edges: 68}},
		{"nec repeat, extended", nec.Received{Frame: nec.Frame{Address: 0x1234, Command: 0x42, Extended: true, Repeat: true}, Time: at, Edges: 4}},
		{"nec bad start", nec.Received{Err: badStartErr, Time: at, Edges: 3}},
		{"nec overrun", nec.Received{Err: overrunErr, Time: at, Edges: 70}},
		{"nec bad address", nec.Received{Err: badAddressErr, Time: at, Edges: 68}},
		{"htu21d reading", htu21d.Reading{Celsius: 21.5, Humidity: 45.25, RawTemperature: 0x6A3C, RawHumidity: 0x6E2E, Time: at}},
		{"htu21d error state", htu21d.Reading{Time: at, Fault: fault}},
		{"adxl345 sample", adxl345.Sample{Smoothed: adxl345.Vector{X: 0.5, Z: 0.875}, Raw: adxl345.Vector{X: 0.5078125, Z: 0.87109375}, Time: at}},
		{"adxl345 still", adxl345.Sample{Smoothed: adxl345.Vector{Z: 1}, Raw: adxl345.Vector{Z: 1}, Time: at, Still: true}},
		{"adxl345 error state", adxl345.Sample{Time: at, Fault: drivers.Fault{Err: &drivers.DeviceError{Device: "adxl345 0x53 on I2C1", Op: "check POWER_CTL after an all-zero sample", Err: adxl345.ErrReset}, Failures: 1, RetryIn: time.Second}}},
		{"uart connected", uart.State{Status: uart.Connected, Since: at}},
		{"uart disconnected", uart.State{Status: uart.Disconnected, Since: at, Err: fmt.Errorf("uart /dev/ttyUSB0: %w", uart.ErrVanished), Attempt: 3, Retry: at.Add(time.Second)}},
		{"atmodem URC", atmodem.URC{Lines: []string{`+CMTI: "SM",3`}, Time: at}},
		{"atmodem multi-line URC", atmodem.URC{Lines: []string{`+CMT: "+441234",,"24/05/01,12:00:00+04"`, "Meet at 6"}, Time: at}},
	}
	var b strings.Builder
	for _, c := range cases {
		j, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fmt.Fprintf(&b, "%s\n%s\n\n", c.name, j)
	}
	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("wire format changed (go test -run TestWireFormat ./drivers -update to accept):\n%s", diff(string(want), got))
	}
}

// diff lists the lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// The words of button kinds and uart statuses are the only ones; an
// unknown value refuses to marshal rather than inventing one, and a
// kind reads back from its word.
func TestWireWords(t *testing.T) {
	for _, k := range []button.Kind{button.Press, button.Release, button.DoubleClick, button.LongPress} {
		b, err := k.MarshalText()
		var back button.Kind
		if err != nil || back.UnmarshalText(b) != nil || back != k {
			t.Errorf("%v: %s, %v; back %v", k, b, err, back)
		}
	}
	var k button.Kind
	if err := k.UnmarshalText([]byte("double-click")); err == nil {
		t.Error("an unknown word unmarshalled")
	}
	if _, err := json.Marshal(button.Event{Kind: 9}); err == nil {
		t.Error("an unknown kind marshalled")
	}
	if _, err := json.Marshal(uart.State{Status: 9}); err == nil {
		t.Error("an unknown status marshalled")
	}
}
