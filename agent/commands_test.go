package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/agent/config"
)

func pwmLED() *config.LED {
	return &config.LED{Pin: "GPIO18", PWM: true, Blink: &config.BlinkEffect{On: time.Second, Off: time.Second},
		Heartbeat: &config.HeartbeatEffect{Period: time.Second}}
}

// Light commands: Home Assistant's JSON schema and plain words; a bad one
// is an error naming what is wrong, and changes nothing.
func TestParseLightCommand(t *testing.T) {
	off := lightTarget{bright: 255}
	plain := &config.LED{Pin: "GPIO5"}
	cases := []struct {
		payload string
		spec    *config.LED
		cur     lightTarget
		want    lightTarget
		err     string
	}{
		{"ON", pwmLED(), off, lightTarget{on: true, bright: 255}, ""},
		{" toggle ", pwmLED(), lightTarget{on: true, bright: 9}, lightTarget{bright: 9}, ""},
		{`{"state":"ON","brightness":128}`, pwmLED(), off, lightTarget{on: true, bright: 128}, ""},
		{`{"brightness":0}`, pwmLED(), lightTarget{on: true, bright: 80}, lightTarget{bright: 80}, ""},
		{`{"effect":"blink"}`, pwmLED(), off, lightTarget{on: true, bright: 255, effect: "blink"}, ""},
		{`{"state":"ON"}`, pwmLED(), lightTarget{on: true, bright: 255, effect: "blink"}, lightTarget{on: true, bright: 255}, ""},
		{`{"state":"OFF"}`, pwmLED(), lightTarget{on: true, bright: 255, effect: "heartbeat"}, off, ""},
		{`{"effect":"none"}`, pwmLED(), lightTarget{on: true, bright: 255, effect: "blink"}, lightTarget{on: true, bright: 255}, ""},
		{`{"brightness":128}`, plain, off, off, `"brightness" needs pwm: true for this LED (GPIO5)`},
		{`{"brightness":300}`, pwmLED(), off, off, `"brightness" 300 is out of range (0 to 255)`},
		{`{"effect":"disco"}`, pwmLED(), off, off, `effect "disco" is not offered (effects: blink, heartbeat)`},
		{`{"state":"DIM"}`, pwmLED(), off, off, `"state": expected ON or OFF, got "DIM"`},
		{`{"state":`, pwmLED(), off, off, "not a light command: unexpected end of JSON input"},
		{"HALF", pwmLED(), off, off, `expected ON, OFF or TOGGLE, got "HALF", or JSON such as`},
	}
	for _, c := range cases {
		got, err := parseLightCommand([]byte(c.payload), c.cur, c.spec)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.payload, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.payload, err, c.err)
		case got != c.want:
			t.Errorf("%q: %+v, want %+v", c.payload, got, c.want)
		}
	}
}

// AT+CSQ's answer in dBm; 99 (unknown) and junk give nothing.
func TestParseCSQ(t *testing.T) {
	cases := map[string]float64{"+CSQ: 20,99": -73, "+CSQ: 0,0": -113, "+CSQ:31,99": -51}
	for line, want := range cases {
		if got, ok := parseCSQ([]string{"", line}); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", line, got, ok, want)
		}
	}
	for _, line := range []string{"+CSQ: 99,99", "+CSQ: x,1", "+CSQ: -1,0", "OK", ""} {
		if got, ok := parseCSQ([]string{line}); ok {
			t.Errorf("%q: %v, want nothing", line, got)
		}
	}
}

// No command payload crashes the parsers, and every refusal says why.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{"ON", "off", "TOGGLE", `{"state":"ON","brightness":128}`, `{"effect":"blink"}`,
		`{"brightness":1e400}`, `{"brightness":"x"}`, `{"state":null}`, "{", "\x00\xff", `{"effect":""}`, "+CSQ: 1,2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if _, err := parseOnOff(payload, false); err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
		for _, spec := range []*config.LED{pwmLED(), {Pin: "GPIO5"}} {
			got, err := parseLightCommand(payload, lightTarget{bright: 255}, spec)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			if got.bright < 0 || got.bright > 255 || got.effect != "" && !got.on {
				t.Fatalf("%q gave %+v", payload, got)
			}
		}
		parseCSQ(strings.Split(string(payload), "\n"))
	})
}
