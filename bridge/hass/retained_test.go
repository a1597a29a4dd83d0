package hass

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseRetainedRoundTrip(t *testing.T) {
	c := mustBuild(t, fullNode())
	got, err := ParseRetained(c.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, c.Components()) {
		t.Errorf("parsed %v, announced %v", got, c.Components())
	}
	// The transitional removal payload parses to the new set plus the stubs.
	msgs, err := c.Update(Components{"old": PlatformSensor, "led": PlatformSwitch})
	if err != nil {
		t.Fatal(err)
	}
	mid, err := ParseRetained(msgs[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	want := c.Components()
	want["old"] = PlatformSensor
	want["led"] = PlatformSwitch
	if !maps.Equal(mid, want) {
		t.Errorf("transitional payload parsed to %v, want %v", mid, want)
	}
}

func TestParseRetained(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    Components // nil: error expected
	}{
		{"empty payload", "", Components{}},
		{"abbreviated keys", `{"dev":{"ids":"x"},"o":{"name":"z2m"},"cmps":{"t":{"p":"sensor","uniq_id":"u"},"b":{"p":"binary_sensor"}}}`,
			Components{"t": "sensor", "b": "binary_sensor"}},
		{"full keys", `{"device":{},"origin":{},"components":{"t":{"platform":"light"}}}`, Components{"t": "light"}},
		{"abbreviation wins", `{"cmps":{"a":{"p":"sensor","platform":"light"}},"components":{"b":{"p":"switch"}}}`,
			Components{"a": "sensor"}},
		{"no components", `{"cmps":{}}`, Components{}},
		{"whitespace", " \n{\"cmps\":{}}\n", Components{}},
		{"null", `null`, nil},
		{"array", `[]`, nil},
		{"string", `"x"`, nil},
		{"truncated", `{"cmps":{"a":{"p":"sensor"}`, nil},
		{"trailing garbage", `{"cmps":{}} x`, nil},
		{"single component topic payload", `{"name":"t","state_topic":"x"}`, nil},
		{"migration request", `{"migrate_discovery":true}`, nil},
		{"components null", `{"cmps":null}`, nil},
		{"components list", `{"cmps":[{"p":"sensor"}]}`, nil},
		{"component not an object", `{"cmps":{"a":"sensor"}}`, nil},
		{"component null", `{"cmps":{"a":null}}`, nil},
		{"platform missing", `{"cmps":{"a":{"unique_id":"x"}}}`, nil},
		{"platform not a string", `{"cmps":{"a":{"p":7}}}`, nil},
		{"platform unknown", `{"cmps":{"a":{"p":"teleporter"}}}`, nil},
		{"platform device", `{"cmps":{"a":{"p":"device"}}}`, nil},
		{"empty component id", `{"cmps":{"":{"p":"sensor"}}}`, nil},
		{"invalid utf-8", "{\"cmps\":{\"\xff\":{\"p\":\"sensor\"}}}", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRetained([]byte(tc.payload))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				if !errors.Is(err, ErrBadRetained) {
					t.Errorf("error %v does not match ErrBadRetained", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseRetainedSizeLimit(t *testing.T) {
	big := append([]byte(`{"cmps":{},"pad":"`), bytes.Repeat([]byte("x"), MaxRetainedSize)...)
	big = append(big, `"}`...)
	if _, err := ParseRetained(big); !errors.Is(err, ErrBadRetained) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized payload: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	c := mustBuild(t, fullNode())
	for name, prev := range map[string]Components{
		"nothing retained": nil,
		"empty":            {},
		"same":             c.Components(),
		"subset":           {"temperature": PlatformSensor},
	} {
		msgs, err := c.Update(prev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(msgs) != 1 || !bytes.Equal(msgs[0].Payload, c.Payload()) || !msgs[0].Retain || msgs[0].Topic != c.Topic() {
			t.Errorf("%s: want just the announcement, got %d messages", name, len(msgs))
		}
	}

	msgs, err := c.Update(Components{"temperature": PlatformSensor, "gone": PlatformEvent})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	for i, m := range msgs {
		if m.Topic != c.Topic() || !m.Retain {
			t.Errorf("message %d: topic %q retain %v", i, m.Topic, m.Retain)
		}
	}
	if !bytes.Equal(msgs[1].Payload, c.Payload()) {
		t.Error("the last message is not the final config")
	}
	var mid struct {
		Device     map[string]any            `json:"device"`
		Origin     map[string]any            `json:"origin"`
		Components map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &mid); err != nil {
		t.Fatal(err)
	}
	if len(mid.Device) == 0 || len(mid.Origin) == 0 {
		t.Error("the transitional payload lacks device or origin; Home Assistant would reject it")
	}
	if stub := mid.Components["gone"]; len(stub) != 1 || stub["platform"] != PlatformEvent {
		t.Errorf("removed component is %v, want exactly {platform: event}", stub)
	}
	if len(mid.Components["temperature"]) < 3 {
		t.Error("a kept component lost its config in the transitional payload")
	}

	if _, err := c.Update(Components{"x": "teleporter"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unsupported previous platform: %v", err)
	}
}

// FuzzParseRetained feeds arbitrary broker data to the parser. It must
// never panic, and whatever it accepts must give a removal sequence whose
// payloads are themselves accepted and end with the announcement.
func FuzzParseRetained(f *testing.F) {
	ref, err := fullNode().Build()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ref.Payload())
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"cmps":{"a":{"p":"sensor"}}}`))
	f.Add([]byte(`{"components":{"a":{"platform":"switch"},"b":{"p":"light"}}}`))
	f.Add([]byte(`{"cmps":{"a":{"p":7}}}`))
	f.Add([]byte(`{"cmps":{"a":null},"components":[]}`))
	f.Add([]byte("{\"cmps\":{\"\xff\":{}}}"))
	f.Add([]byte(`{"cmps":{"led":{"p":"switch"},"temperature":{"p":"sensor"}}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		comps, err := ParseRetained(payload)
		if err != nil {
			if !errors.Is(err, ErrBadRetained) {
				t.Fatalf("error %v does not match ErrBadRetained", err)
			}
			return
		}
		for id, p := range comps {
			if id == "" || !supportedPlatform(p) {
				t.Fatalf("accepted component %q with platform %q", id, p)
			}
		}
		msgs, err := ref.Update(comps)
		if err != nil {
			t.Fatalf("Update after a successful parse: %v", err)
		}
		if last := msgs[len(msgs)-1]; !bytes.Equal(last.Payload, ref.Payload()) {
			t.Fatal("the sequence does not end with the announcement")
		}
		for _, m := range msgs {
			if _, err := ParseRetained(m.Payload); err != nil {
				t.Fatalf("our own payload does not parse: %v\n%s", err, m.Payload)
			}
		}
	})
}
