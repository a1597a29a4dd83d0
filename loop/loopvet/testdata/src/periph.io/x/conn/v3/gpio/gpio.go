// Package gpio is a stub of periph.io/x/conn/v3/gpio.
package gpio

import "time"

type Level bool

type PinIn interface {
	Read() Level
	WaitForEdge(timeout time.Duration) bool
}
