package agent

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	// GPIO through the Linux character device (/dev/gpiochip*), the only
	// way to reach the pins of a Raspberry Pi 5; host.Init registers it too,
	// the import says that it is relied on.
	_ "periph.io/x/host/v3/gpioioctl"

	"github.com/edgeagent/edgeagent/agent/config"
)

// Hardware opens the pins and buses of the devices that are not simulated.
// The agent's default is the machine's own, through periph.io's host drivers
// (HostHardware); tests give their own. Serial ports are opened by path by
// the UART driver itself.
type Hardware interface {
	// Pin returns the GPIO called name (as the configuration normalised it,
	// "GPIO17").
	Pin(name string) (gpio.PinIO, error)
	// I2C opens the I2C bus called name ("1").
	I2C(name string) (i2c.BusCloser, error)
}

// ErrNoHardware matches the error of opening a pin or bus on a machine
// where periph found none.
var ErrNoHardware = errors.New("agent: no such hardware on this machine")

// HostHardware is the machine's hardware through periph.io/x/host/v3. The
// host drivers are initialised (host.Init) on the first Pin or I2C call,
// never before: a configuration whose devices are all simulated never
// touches the machine's hardware. GPIO lines come through the Linux
// character device (package gpioioctl), so a Raspberry Pi 5 works.
type HostHardware struct {
	once    sync.Once
	initErr error
}

// NewHostHardware returns the machine's hardware, not yet initialised.
func NewHostHardware() *HostHardware { return &HostHardware{} }

func (h *HostHardware) init() error {
	h.once.Do(func() {
		if _, err := host.Init(); err != nil {
			h.initErr = fmt.Errorf("periph host drivers: %w", err)
		}
	})
	return h.initErr
}

// Pin returns the GPIO called name from periph's registry.
func (h *HostHardware) Pin(name string) (gpio.PinIO, error) {
	if err := h.init(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		if len(gpioreg.All()) == 0 {
			return nil, fmt.Errorf("pin %s: %w (no GPIO chip found: is /dev/gpiochip0 there and readable by this user?)", name, ErrNoHardware)
		}
		return nil, fmt.Errorf("pin %s: %w (this board has %s)", name, ErrNoHardware, pinList())
	}
	return p, nil
}

// I2C opens the I2C bus called name through periph's registry.
func (h *HostHardware) I2C(name string) (i2c.BusCloser, error) {
	if err := h.init(); err != nil {
		return nil, err
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("I2C bus %s: %w (is /dev/i2c-%s there and readable by this user?)", name, err, name)
	}
	return b, nil
}

// pinList abbreviates the registered GPIO names for a message.
func pinList() string {
	var names []string
	for _, p := range gpioreg.All() {
		names = append(names, p.Name())
	}
	if len(names) > 6 {
		return strings.Join(names[:3], ", ") + " … " + names[len(names)-1]
	}
	return strings.Join(names, ", ")
}

// hostBoard is config.Board over periph's registries, once host.Init has
// found GPIO chips.
type hostBoard struct{ name string }

// HostBoard initialises the host drivers and returns the machine as a
// config.Board, so pins and buses are checked against it — or false when
// the machine has no GPIO (a PC, a VM, a container): then only the form of
// pins and buses can be checked.
func HostBoard(h *HostHardware) (config.Board, bool) {
	if h.init() != nil || len(gpioreg.All()) == 0 {
		return nil, false
	}
	return &hostBoard{name: boardModel()}, true
}

// boardModel names the board from the device tree ("Raspberry Pi 5 Model B
// Rev 1.0"), else "this board".
func boardModel() string {
	b, err := os.ReadFile("/proc/device-tree/model")
	if err != nil {
		return "this board"
	}
	if s := strings.TrimSpace(strings.TrimRight(string(b), "\x00")); s != "" {
		return s
	}
	return "this board"
}

func (b *hostBoard) Name() string { return b.name }

func (b *hostBoard) Pin(name string) (string, error) {
	if p := gpioreg.ByName(name); p != nil {
		return p.Name(), nil
	}
	return "", fmt.Errorf("%s has %s", b.name, pinList())
}

func (b *hostBoard) I2CBus(name string) (string, error) {
	var names []string
	for _, r := range i2creg.All() {
		if r.Name == name || slices.Contains(r.Aliases, name) || r.Number >= 0 && fmt.Sprint(r.Number) == name {
			if r.Number < 0 {
				return r.Name, nil
			}
			return fmt.Sprint(r.Number), nil
		}
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%s has no I2C bus enabled (raspi-config: Interface Options → I2C)", b.name)
	}
	return "", fmt.Errorf("%s has %s", b.name, strings.Join(names, ", "))
}
