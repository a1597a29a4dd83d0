package hass

import (
	"slices"
	"strings"
)

// The tables below follow Home Assistant core:
// homeassistant/components/sensor/const.py (SensorDeviceClass,
// DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES, STATE_CLASS_UNITS), the
// unit enums of homeassistant/const.py, and the BinarySensorDeviceClass,
// ButtonDeviceClass, EventDeviceClass and SwitchDeviceClass enums. Units
// that only the newest releases accept (for example mPa, inH₂O, MCF, nmi)
// are left out on purpose: rejecting a unit an older Home Assistant would
// refuse is safer than announcing it. They are functions over switch
// statements so the package holds no mutable tables.

// Sensor state classes.
const (
	StateClassMeasurement      = "measurement"
	StateClassMeasurementAngle = "measurement_angle"
	StateClassTotal            = "total"
	StateClassTotalIncreasing  = "total_increasing"
)

// Entity categories.
const (
	CategoryConfig     = "config"
	CategoryDiagnostic = "diagnostic"
)

// Light color modes used by LEDs; the other legal modes are color_temp, hs,
// xy, rgb, rgbw, rgbww and white.
const (
	ColorModeOnOff      = "onoff"
	ColorModeBrightness = "brightness"
)

// Micro prefix: Home Assistant core switched its units from MICRO SIGN
// (U+00B5) to GREEK SMALL LETTER MU (U+03BC) in core PR #144853 (2025) and
// translates the legacy sign in MQTT configs. We always emit U+03BC.
const (
	microSign = "\u00b5"
	greekMu   = "\u03bc"
)

// normalizeUnit maps the legacy micro sign to the Greek mu Home Assistant
// uses in its unit constants.
func normalizeUnit(u string) string { return strings.ReplaceAll(u, microSign, greekMu) }

func unitsTemperature() []string { return []string{"°C", "°F", "K"} }

func unitsPressure() []string {
	return []string{"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"}
}

func unitsEnergy() []string {
	return []string{"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"}
}

func unitsSpeed() []string {
	return []string{"Beaufort", "ft/s", "in/s", "m/s", "km/h", "kn", "mph", "mm/s"}
}

func unitsFlux() []string { return []string{"in/d", "in/h", "mm/d", "mm/h"} }

func unitsVolume() []string { return []string{"ft³", "CCF", "m³", "L", "mL", "gal", "fl. oz."} }

func unitsInformation() []string {
	return []string{"bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB",
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
}

func unitsDataRate() []string {
	return []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s"}
}

// sensorUnits reports the units Home Assistant accepts for a sensor device
// class. An empty string in the list means "no unit". checked is false when
// Home Assistant does not check units for the class (monetary: any ISO 4217
// code) or the class is unknown.
func sensorUnits(deviceClass string) (units []string, checked bool) {
	switch deviceClass {
	case "apparent_power":
		return []string{"VA"}, true
	case "aqi", "ph":
		return []string{""}, true
	case "area":
		return []string{"m²", "cm²", "km²", "mm²", "in²", "ft²", "yd²", "mi²", "ac", "ha"}, true
	case "atmospheric_pressure", "pressure":
		return unitsPressure(), true
	case "battery", "humidity", "moisture":
		return []string{"%"}, true
	case "blood_glucose_concentration":
		return []string{"mg/dL", "mmol/L"}, true
	case "carbon_monoxide", "carbon_dioxide":
		return []string{"ppm"}, true
	case "conductivity":
		return []string{"S/cm", "mS/cm", "μS/cm"}, true
	case "current":
		return []string{"mA", "A"}, true
	case "data_rate":
		return unitsDataRate(), true
	case "data_size":
		return unitsInformation(), true
	case "distance":
		return []string{"mm", "cm", "m", "km", "in", "ft", "yd", "mi"}, true
	case "duration":
		return []string{"d", "h", "min", "s", "ms", "μs"}, true
	case "energy", "energy_storage":
		return unitsEnergy(), true
	case "energy_distance":
		return []string{"kWh/100km", "mi/kWh", "km/kWh"}, true
	case "frequency":
		return []string{"Hz", "kHz", "MHz", "GHz"}, true
	case "gas":
		return []string{"CCF", "ft³", "m³", "L"}, true
	case "illuminance":
		return []string{"lx"}, true
	case "irradiance":
		return []string{"W/m²", "BTU/(h⋅ft²)"}, true
	case "nitrogen_dioxide", "nitrogen_monoxide", "nitrous_oxide", "ozone",
		"pm1", "pm10", "pm25", "sulphur_dioxide", "volatile_organic_compounds":
		return []string{"μg/m³"}, true
	case "power_factor":
		return []string{"%", ""}, true
	case "power":
		return []string{"mW", "W", "kW", "MW", "GW", "TW"}, true
	case "precipitation":
		return []string{"cm", "in", "mm"}, true
	case "precipitation_intensity":
		return unitsFlux(), true
	case "reactive_power":
		return []string{"var", "kvar"}, true
	case "signal_strength":
		return []string{"dB", "dBm"}, true
	case "sound_pressure":
		return []string{"dB", "dBA"}, true
	case "speed":
		return append(unitsSpeed(), unitsFlux()...), true
	case "temperature":
		return unitsTemperature(), true
	case "volatile_organic_compounds_parts":
		return []string{"ppm", "ppb"}, true
	case "voltage":
		return []string{"μV", "mV", "V", "kV", "MV"}, true
	case "volume", "volume_storage":
		return unitsVolume(), true
	case "volume_flow_rate":
		return []string{"m³/h", "ft³/min", "L/min", "gal/min", "mL/s"}, true
	case "water":
		return []string{"CCF", "ft³", "m³", "gal", "L"}, true
	case "weight":
		return []string{"μg", "mg", "g", "kg", "oz", "lb"}, true
	case "wind_direction":
		return []string{"°"}, true
	case "wind_speed":
		return unitsSpeed(), true
	}
	return nil, false
}

// nonNumericSensorClass reports the sensor classes whose state is not a
// number: they take no unit, state class or display precision.
func nonNumericSensorClass(deviceClass string) bool {
	switch deviceClass {
	case "date", "enum", "timestamp":
		return true
	}
	return false
}

// validSensorClass reports whether Home Assistant knows the sensor device
// class.
func validSensorClass(deviceClass string) bool {
	if nonNumericSensorClass(deviceClass) || deviceClass == "monetary" {
		return true
	}
	_, ok := sensorUnits(deviceClass)
	return ok
}

func allStateClasses() []string {
	return []string{StateClassMeasurement, StateClassMeasurementAngle, StateClassTotal, StateClassTotalIncreasing}
}

// sensorStateClasses lists the state classes that make sense for a sensor
// device class (DEVICE_CLASS_STATE_CLASSES). Home Assistant logs a warning
// for a mismatch and keeps no usable statistics; we refuse it.
func sensorStateClasses(deviceClass string) []string {
	switch deviceClass {
	case "area", "data_size", "distance", "duration", "precipitation":
		return allStateClasses()
	case "date", "enum", "timestamp":
		return nil
	case "energy", "gas", "volume", "water":
		return []string{StateClassTotal, StateClassTotalIncreasing}
	case "monetary":
		return []string{StateClassTotal}
	case "weight":
		return []string{StateClassMeasurement, StateClassTotal, StateClassTotalIncreasing}
	case "wind_direction":
		return []string{StateClassMeasurementAngle}
	}
	// Every other known class is a measurement in present time.
	return []string{StateClassMeasurement}
}

// stateClassUnits lists the only units a state class accepts, when it
// restricts them (STATE_CLASS_UNITS).
func stateClassUnits(stateClass string) []string {
	if stateClass == StateClassMeasurementAngle {
		return []string{"°"}
	}
	return nil
}

func validStateClass(s string) bool { return slices.Contains(allStateClasses(), s) }

func binarySensorClasses() []string {
	return []string{"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
		"garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
		"opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
		"tamper", "update", "vibration", "window"}
}

func buttonClasses() []string { return []string{"identify", "restart", "update"} }
func eventClasses() []string  { return []string{"button", "doorbell", "motion"} }
func switchClasses() []string { return []string{"outlet", "switch"} }

func lightColorModes() []string {
	return []string{"onoff", "brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww", "white"}
}

// supportedPlatforms are the platforms Home Assistant accepts in a device
// payload's components (mqtt SUPPORTED_COMPONENTS). A retained payload naming
// another platform cannot be echoed back in a removal payload: Home Assistant
// would reject the whole payload.
func supportedPlatform(p string) bool {
	switch p {
	case "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover",
		"device_automation", "device_tracker", "event", "fan", "humidifier", "image",
		"lawn_mower", "light", "lock", "notify", "number", "scene", "select", "sensor",
		"siren", "switch", "tag", "text", "update", "vacuum", "valve", "water_heater":
		return true
	}
	return false
}
