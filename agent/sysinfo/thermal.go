package sysinfo

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNotAvailable matches the error of FindZone when the machine has no
// thermal zone to read, or none that the selector names.
var ErrNotAvailable = errors.New("CPU temperature not available")

// thermalDir is where the kernel lists the thermal zones.
const thermalDir = "sys/class/thermal"

// A Zone is one of the kernel's thermal zones.
type Zone struct {
	Name string // "thermal_zone0"
	Type string // what the driver calls it: "cpu-thermal" on a Raspberry Pi, "x86_pkg_temp" …
	Dir  string // the directory its files are in, under the root given
}

// Zones lists the thermal zones under root/sys/class/thermal in the order
// of their numbers. A machine without any gives an empty list, not an error.
func Zones(root string) ([]Zone, error) {
	dir := filepath.Join(root, thermalDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type numbered struct {
		n uint64
		z Zone
	}
	var found []numbered
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), "thermal_zone")
		n, isNum := parseUint(num)
		if !ok || !isNum {
			continue // cooling_deviceN and others
		}
		z := Zone{Name: e.Name(), Dir: filepath.Join(dir, e.Name())}
		if z.Type, err = readType(filepath.Join(z.Dir, "type")); err != nil {
			return nil, err
		}
		found = append(found, numbered{n, z})
	}
	// ReadDir sorts by name, which puts thermal_zone10 before thermal_zone2.
	slices.SortFunc(found, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	zones := make([]Zone, len(found))
	for i, f := range found {
		zones[i] = f.z
	}
	return zones, nil
}

// readType reads a zone's type file: a name on one line. The ABI asks for
// one lower-case word, but drivers do not all comply ("INT3400 Thermal").
func readType(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	line, ok := singleLine(data)
	if !ok || line == "" || strings.ContainsRune(line, 0) {
		return "", formatError(file, string(data), "want a name on one line")
	}
	return line, nil
}

// cpuZoneHint tells the CPU's zone among others when no selector is given:
// ARM boards call it after the CPU or the SoC ("cpu-thermal" on a Raspberry
// Pi, "cpu_thermal", "soc-thermal"), Intel PCs "x86_pkg_temp".
func cpuZoneHint(typ string) bool {
	t := strings.ToLower(typ)
	return strings.Contains(t, "cpu") || strings.Contains(t, "soc") || t == "x86_pkg_temp"
}

// FindZone chooses the thermal zone to read under root:
//
//   - selector "" picks the first zone whose type names the CPU or the SoC
//     (see Zones for the order), else the first zone;
//   - a selector with a '/' is a path under root to a zone's directory or to
//     its temp file ("/sys/class/thermal/thermal_zone2");
//   - any other selector is a zone type ("cpu-thermal") or name
//     ("thermal_zone2"), types first.
//
// When there is no zone, or none matches, the error matches ErrNotAvailable
// and lists the zones there are.
func FindZone(root, selector string) (Zone, error) {
	if strings.Contains(selector, "/") {
		return zoneAt(root, selector)
	}
	zones, err := Zones(root)
	if err != nil {
		return Zone{}, err
	}
	if len(zones) == 0 {
		return Zone{}, fmt.Errorf("%w: no thermal zones in %s", ErrNotAvailable, filepath.Join(root, thermalDir))
	}
	if selector == "" {
		for _, z := range zones {
			if cpuZoneHint(z.Type) {
				return z, nil
			}
		}
		return zones[0], nil
	}
	for _, z := range zones {
		if z.Type == selector {
			return z, nil
		}
	}
	for _, z := range zones {
		if z.Name == selector {
			return z, nil
		}
	}
	var have []string
	for _, z := range zones {
		have = append(have, z.String())
	}
	return Zone{}, fmt.Errorf("%w: no thermal zone of type or name %q; there are %s", ErrNotAvailable, selector, strings.Join(have, ", "))
}

// zoneAt is FindZone for a path.
func zoneAt(root, path string) (Zone, error) {
	dir := filepath.Join(root, path)
	if filepath.Base(dir) == "temp" {
		dir = filepath.Dir(dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "temp")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Zone{}, fmt.Errorf("%w: %s is not a thermal zone (no temp file)", ErrNotAvailable, dir)
		}
		return Zone{}, err
	}
	z := Zone{Name: filepath.Base(dir), Dir: dir}
	typ, err := readType(filepath.Join(dir, "type"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Zone{}, err
	}
	z.Type = typ
	return z, nil
}

// absoluteZero is the coldest temperature a sensor can report, in
// millidegrees Celsius; below it (the kernel's THERMAL_TEMP_INVALID is
// -274000) a zone has no valid reading.
const absoluteZero = -273150

// Temperature reads the zone's temperature, in degrees Celsius.
func (z Zone) Temperature() (float64, error) {
	file := filepath.Join(z.Dir, "temp")
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return parseTemp(file, data)
}

// parseTemp parses a temp file: millidegrees Celsius, "48312\n".
func parseTemp(file string, data []byte) (float64, error) {
	line, ok := singleLine(data)
	if !ok {
		return 0, formatError(file, line, "want one line ending in a newline")
	}
	milli, ok := parseInt(line)
	if !ok {
		return 0, formatError(file, line, "temperature is not an integer of millidegrees Celsius")
	}
	if milli < absoluteZero {
		return 0, formatError(file, line, "below absolute zero: the sensor has no valid reading")
	}
	return float64(milli) / 1000, nil
}

// String names the zone for logs: "thermal_zone0 (cpu-thermal)".
func (z Zone) String() string {
	if z.Type == "" {
		return z.Name
	}
	return z.Name + " (" + z.Type + ")"
}
