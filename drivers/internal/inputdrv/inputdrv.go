// Package inputdrv is what the drivers built on a gpioin.Input (button,
// contact, the nec receiver) share: the options they have in common, the
// input with the pull that matches the wiring, and the outlet their events
// go through.
//
// It must not decide what an edge means (that is each driver's), nor hold
// any driver's own options.
package inputdrv

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin"
	"github.com/edgeagent/edgeagent/drivers/internal/outlet"
	"periph.io/x/conn/v3/gpio"
)

// Config is what every input driver configures alike; each driver's config
// embeds it, and its options set it.
type Config[E any] struct {
	ActiveHigh bool          // the contact pulls the pin high: pull-down, not pull-up
	Debounce   time.Duration // 0: off
	QueueSize  int           // the driver's event queue
	OnEvent    func(E)       // called with each event before it is queued
	Input      []gpioin.Option
}

// AddInput appends options for the gpioin.Input.
func (c *Config[E]) AddInput(opts []gpioin.Option) error {
	c.Input = append(c.Input, opts...)
	return nil
}

// Build checks the pin and the options' errors (optErr, from option.Apply)
// and returns the driver's input and outlet. pkg names the driver in
// errors; forced are input options the driver insists on.
func Build[E any](pkg string, pin gpio.PinIn, c *Config[E], optErr error, forced ...gpioin.Option) (*gpioin.Input, *outlet.Outlet[E], error) {
	if pin == nil {
		optErr = errors.Join(fmt.Errorf("%s: New: pin is nil", pkg), optErr)
	}
	if optErr != nil {
		return nil, nil, optErr
	}
	in, err := NewInput(pin, c.ActiveHigh, c.Input, forced...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return in, outlet.New(c.QueueSize, c.OnEvent), nil
}

// NewInput returns the gpioin.Input of a driver's pin: pulled up for a
// contact wired to ground (active low), down for one wired to the supply
// (activeHigh), then the user's options, which may set another pull, then
// forced, the options the driver insists on.
func NewInput(pin gpio.PinIn, activeHigh bool, user []gpioin.Option, forced ...gpioin.Option) (*gpioin.Input, error) {
	pull := gpio.PullUp
	if activeHigh {
		pull = gpio.PullDown
	}
	opts := make([]gpioin.Option, 0, 1+len(user)+len(forced))
	opts = append(opts, gpioin.WithPull(pull))
	opts = append(opts, user...)
	opts = append(opts, forced...)
	return gpioin.New(pin, opts...)
}
