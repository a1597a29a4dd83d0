package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// testBoard is the board the board_*.yaml cases are checked against: a
// Raspberry Pi with GPIO0–GPIO27, header names for a few, and I2C bus 1.
func testBoard() *StaticBoard {
	b := &StaticBoard{BoardName: "Test Pi", Aliases: map[string]string{"P1_11": "GPIO17", "P1_12": "GPIO18"}, Buses: []string{"1"}}
	for i := range 28 {
		b.Pins = append(b.Pins, "GPIO"+itoa(i))
	}
	return b
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestGolden parses every broken configuration in testdata and compares
// the full error listing with its .golden file (go test -update rewrites
// them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("only %d broken configurations in testdata", len(files))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			opts := []Option{WithHostname("testhost")}
			if strings.HasPrefix(name, "board_") {
				opts = append(opts, WithBoard(testBoard()))
			}
			cfg, err := Parse(name, data, opts...)
			if err == nil {
				t.Fatalf("%s parsed without an error: %s", name, cfg.Summary())
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("the error is a %T, not Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != name || e.Msg == "" {
					t.Errorf("error without a file or a message: %#v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s (go test -update rewrites it)\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}
