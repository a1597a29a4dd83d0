package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the loader arbitrary documents: it must never panic, and
// it returns either a complete Config or Errors whose every entry has a
// file and a message. The seeds are the broken configurations of testdata,
// the shipped files and a file that sets every key.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, examplePath, defaultPath)
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(everyKey))
	f.Add([]byte("a: &a [*a]\ndevices: *a\n"))
	f.Add([]byte("devices:\n  - {<<: [*x], name: a}\n"))
	f.Add([]byte("? [a]\n: b\ndevices: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, WithHostname("fuzz"), WithBoard(testBoard()))
		if err != nil {
			if cfg != nil {
				t.Fatal("a Config with an error")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("the error is not Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Col < 0 {
					t.Fatalf("bad error entry %#v", e)
				}
			}
			return
		}
		// A good configuration is complete and consistent.
		_ = cfg.Summary()
		names := map[string]bool{}
		entities := map[string]bool{}
		for _, d := range cfg.Devices {
			if d.Spec == nil || checkDeviceName(d.Name) != "" || names[d.Name] {
				t.Fatalf("device %q: spec %v", d.Name, d.Spec)
			}
			names[d.Name] = true
			for _, v := range d.Values {
				if entities[v.Entity] || v.Platform == "" || v.Publish.QoS > 2 || v.Kind == Event && v.Publish.Retain {
					t.Fatalf("value %+v", v)
				}
				entities[v.Entity] = true
				if ps := v.Publish.Filter.Check(v.Kind == Numeric); len(ps) > 0 {
					t.Fatalf("%s: filter problems %v", v.Entity, ps)
				}
			}
		}
		if len(cfg.MQTT.Brokers) == 0 || checkID(cfg.MQTT.NodeID) != "" || checkTopicLevels(cfg.MQTT.BaseTopic) != "" {
			t.Fatalf("mqtt %+v", cfg.MQTT)
		}
	})
}
