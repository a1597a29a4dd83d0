package hass

import (
	"encoding/json"
	"testing"
)

// BenchmarkBuild measures validating and encoding the full node; the
// baseline below encodes the same payload with encoding/json from a decoded
// map, the cheapest stdlib route to (unordered, unchecked) bytes.
func BenchmarkBuild(b *testing.B) {
	n := fullNode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Build(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildBaselineJSONMarshal(b *testing.B) {
	var m map[string]any
	if err := json.Unmarshal(mustBuild(b, fullNode()).Payload(), &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRetained(b *testing.B) {
	payload := mustBuild(b, fullNode()).Payload()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRetained(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRetainedBaselineUnmarshal(b *testing.B) {
	payload := mustBuild(b, fullNode()).Payload()
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			b.Fatal(err)
		}
	}
}
