package config

import (
	"os"
	"testing"

	"github.com/goccy/go-yaml"
)

// BenchmarkParseExample loads the full example (13 devices, every check),
// against the baseline of go-yaml decoding the same file into a map.
func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("config.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse("config.yaml", data, WithHostname("h")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=yaml.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := yaml.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
