// Package config is the agent's configuration: its types, loading, defaults
// and validation. docs/configuration.md is the reference of every key.
//
// Load (or Parse) reads one YAML document strictly and returns a *Config
// with every default filled in — or, if anything is wrong, Errors listing
// every problem at once, each with its file, line, column and key path:
//
//	config.yaml:12:5: devices[2].pin: "GPIO99" is not a pin of this board (Raspberry Pi 4 has GPIO0, GPIO1 … GPIO27)
//
// Beyond the form (unknown keys with the nearest valid one, types,
// durations, ranges, required keys) it checks what spans the file: unique
// device names and entity ids, one device per pin, serial port and I2C
// address, MQTT topics and broker URLs that can work, passwords never
// inline and TLS files present, Home Assistant device classes and units
// (through package bridge/hass), publish filters that do not contradict
// each other. Whether pins and buses exist is known only on the board: with
// WithBoard the agent checks them there (periph's registries); without, the
// form alone is checked and Config.Board stays "", which `edgeagent
// validate` reports.
//
// Each device's settings are a typed Spec (*Pushbutton, *Contact, *LED,
// *Output, *HTU21D, *ADXL345, *UARTLines, *ATModem, *NECIR, *System) and
// Device.Values says what the device publishes: entity ids, Home Assistant
// platform and classes, and the publish settings whose filters package
// agent/filter runs. A Spec's Simulate field, when set, asks for the
// device's simulator instead of its hardware.
//
// The package reads the file and, to check them, the password and TLS
// files; it never opens hardware, never touches MQTT and keeps no state.
// Wiring devices, the bridge and the command line on top of it is package
// agent's job.
package config
