// Package drivers is the root of the hardware drivers: buttons, switches,
// LEDs, I2C sensors, UART streams, AT-command modems and IR receivers, one
// sub-package each.
//
// Drivers depend on periph.io conn/v3 interfaces and go.bug.st/serial, never
// on a concrete host, and never on package bridge: the agent joins the two.
package drivers
