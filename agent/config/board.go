package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Board is the hardware the configuration will run on. On a real board the
// agent implements it with periph's registries (gpioreg, i2creg) after
// host.Init; Parse then checks that every pin and bus of a device that is
// not simulated exists. Without a Board only their form is checked, and
// Config.Board stays "".
type Board interface {
	// Name names the board in messages ("Raspberry Pi 4 Model B").
	Name() string
	// Pin resolves a pin name the form check accepted to the board's
	// canonical name, so two names of one pin (GPIO17 and P1_11) are seen
	// as one. The error says why the board has no such pin; it is shown in
	// parentheses after `"GPIO99" is not a pin of this board`.
	Pin(name string) (canonical string, err error)
	// I2CBus resolves a bus name ("1") the same way.
	I2CBus(name string) (canonical string, err error)
}

// StaticBoard is a Board described by lists, for tests and for boards
// whose registry is known in advance.
type StaticBoard struct {
	// BoardName is returned by Name.
	BoardName string
	// Pins lists the canonical pin names.
	Pins []string
	// Aliases maps other names of pins (P1_11) to canonical ones (GPIO17).
	Aliases map[string]string
	// Buses lists the canonical I2C bus names.
	Buses []string
}

// Name returns BoardName.
func (b *StaticBoard) Name() string { return b.BoardName }

// Pin resolves name through Aliases and checks it against Pins.
func (b *StaticBoard) Pin(name string) (string, error) {
	if c, ok := b.Aliases[name]; ok {
		name = c
	}
	if contains(b.Pins, name) {
		return name, nil
	}
	return "", fmt.Errorf("%s has %s", b.BoardName, listRange(b.Pins))
}

// I2CBus checks name against Buses.
func (b *StaticBoard) I2CBus(name string) (string, error) {
	if contains(b.Buses, name) {
		return name, nil
	}
	return "", fmt.Errorf("%s has I2C bus %s", b.BoardName, strings.Join(b.Buses, ", "))
}

// listRange abbreviates a list of pins for a message.
func listRange(pins []string) string {
	if len(pins) <= 6 {
		return strings.Join(pins, ", ")
	}
	return fmt.Sprintf("%s, %s … %s", pins[0], pins[1], pins[len(pins)-1])
}

// digits reports whether s is 1 to max decimal digits.
func digits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// name reports whether s looks like a periph name: a letter, then letters,
// digits, _ . or -, at most 32 in all.
func name(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter || !(letter || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// cutPrefixFold removes prefix from s, ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// normalizePin checks a pin name's form and returns it normalised: GPIO
// numbers as "GPIO<n>", other periph names (P1_11, PA7, XIO-P0) in upper
// case. The error is the message for the user.
func normalizePin(s string) (string, error) {
	if _, err := strconv.Atoi(s); err == nil {
		return "", fmt.Errorf("%s is a number: name the pin, such as \"GPIO%s\" (the GPIO number) or \"P1_11\" (a header pin)", s, s)
	}
	if rest, ok := cutPrefixFold(s, "gpio"); ok {
		rest = strings.TrimPrefix(rest, "_")
		if digits(rest, 4) {
			n, _ := strconv.Atoi(rest)
			return "GPIO" + strconv.Itoa(n), nil
		}
	}
	if strings.HasPrefix(strings.ToUpper(s), "BCM") {
		if n, err := strconv.Atoi(s[3:]); err == nil {
			return "", fmt.Errorf("%q: write the BCM number as \"GPIO%d\"", s, n)
		}
	}
	if !name(s) {
		return "", fmt.Errorf("%q is not a pin name: write \"GPIO17\", or a periph name such as \"P1_11\" (letters, digits, _ . -; starting with a letter)", s)
	}
	return strings.ToUpper(s), nil
}

// normalizeBus checks an I2C bus name and returns it normalised: "1" for
// 1, I2C1, i2c-1 or /dev/i2c-1; other periph names as written.
func normalizeBus(s string) (string, error) {
	rest := s
	for _, prefix := range []string{"/dev/i2c-", "i2c-", "i2c"} {
		if r, ok := cutPrefixFold(s, prefix); ok {
			rest = r
			break
		}
	}
	if digits(rest, 3) {
		n, _ := strconv.Atoi(rest)
		return strconv.Itoa(n), nil
	}
	if !name(s) {
		return "", fmt.Errorf("%q is not an I2C bus: write its number (\"1\" for /dev/i2c-1) or its periph name", s)
	}
	return s, nil
}

// normalizePort checks a serial port path.
func normalizePort(s string) (string, error) {
	if !filepath.IsAbs(s) {
		return "", fmt.Errorf("%q is not an absolute path: give the device file, such as \"/dev/ttyUSB0\" or (stable across reboots) \"/dev/serial/by-id/…\"", s)
	}
	return filepath.Clean(s), nil
}
