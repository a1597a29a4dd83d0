package sysinfo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A FormatError is a file whose content is not what the kernel writes there.
type FormatError struct {
	File   string // the path read
	Text   string // the offending text (cut to maxQuoted bytes)
	Reason string // what is wrong with it
}

// maxQuoted bounds the text an error quotes: enough to recognise it, never
// a whole file in a log line.
const maxQuoted = 64

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %s: %q", e.File, e.Reason, e.Text)
}

func formatError(file, text, reason string) *FormatError {
	if len(text) > maxQuoted {
		n := maxQuoted
		for n > 0 && !utf8.RuneStart(text[n]) {
			n-- // cut between characters
		}
		text = text[:n] + "…"
	}
	return &FormatError{File: file, Text: text, Reason: reason}
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDecimal parses an unsigned decimal as the kernel prints it ("0.52",
// "1115.60", "3"): digits, optionally a point and more digits — no sign,
// exponent, hex, underscores, "Inf" or "NaN", all of which ParseFloat
// would take.
func parseDecimal(s string) (float64, bool) {
	whole, frac, point := strings.Cut(s, ".")
	if !isDigits(whole) || point && !isDigits(frac) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// parseUint parses ASCII digits into a uint64, refusing overflow.
func parseUint(s string) (uint64, bool) {
	if !isDigits(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// parseInt parses an optional '-' and digits into an int64.
func parseInt(s string) (int64, bool) {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if !isDigits(digits) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// seconds converts a count of seconds to a Duration, refusing what does
// not fit (about 292 years).
func seconds(s float64) (time.Duration, bool) {
	if s < 0 || s >= float64(math.MaxInt64)/float64(time.Second) {
		return 0, false
	}
	return time.Duration(math.Round(s * float64(time.Second))), true
}

// singleLine returns data without its one trailing newline, and whether it
// was one line: the kernel ends these files with exactly one "\n".
func singleLine(data []byte) (string, bool) {
	s := string(data)
	if len(s) == 0 || s[len(s)-1] != '\n' {
		return s, false
	}
	s = s[:len(s)-1]
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s, false
		}
	}
	return s, true
}
