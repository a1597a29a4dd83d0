package agent

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/htu21d"
	"github.com/edgeagent/edgeagent/drivers/htu21d/htu21dtest"
	"github.com/edgeagent/edgeagent/loop"
)

// htu21dDev is the `htu21d` device: temperature and humidity sensors read
// every interval. A reading that fails (a NACK, a bad CRC) makes the device
// failing — its entities unavailable — while the driver retries with
// back-off and initialises the sensor again; the next good reading makes it
// available again. A bus that cannot be opened fails the run, which the
// supervisor restarts.
type htu21dDev struct {
	spec *config.HTU21D
	hw   Hardware
	sim  *htu21dtest.Sensor // the simulated chip; nil on hardware
	dev  *htu21d.Dev        // while run runs
}

func newHTU21D(s *config.HTU21D, hw Hardware) (device, error) {
	return &htu21dDev{spec: s, hw: hw}, nil
}

func (d *htu21dDev) run(t *loop.Task, env *devEnv) error {
	bus, closeBus, err := openI2C(d.hw, d.spec.Bus, d.spec.Simulate != nil, func() i2c.Bus {
		if d.sim == nil {
			d.sim = htu21dtest.New(env.l.Now)
		}
		return d.sim
	})
	if err != nil {
		return err
	}
	defer closeBus()
	dev, err := htu21d.New(bus, htu21d.WithPeriod(d.spec.Interval), htu21d.WithMeasurementResolution(d.spec.Resolution))
	if err != nil {
		return fmt.Errorf("htu21d: %w", err)
	}
	d.dev = dev
	defer func() { d.dev = nil }()
	g := loop.NewGroup(t)
	if d.sim != nil {
		g.Go("simulate", func(t *loop.Task) error { return d.simulate(t, env) })
	}
	g.Go("htu21d", dev.Run)
	g.Go("publish", func(t *loop.Task) error {
		var seen uint64
		for {
			r, n, err := dev.Latest().WaitNext(t, seen)
			if err != nil {
				return err
			}
			seen = n
			if r.Err != nil {
				env.failing(fmt.Errorf("%w (failed %d times, retrying in %v)", r.Err, r.Failures, r.RetryIn))
				continue
			}
			env.ready()
			env.state("temperature", r.Celsius, r.Time)
			env.state("humidity", r.Humidity, r.Time)
		}
	})
	return g.Wait(t)
}

// simulate lets the simulated readings drift within their ranges, and
// fails every FailEvery-th reading.
func (d *htu21dDev) simulate(t *loop.Task, env *devEnv) error {
	sim := d.spec.Simulate
	rnd := seeded(env.dev.Name)
	temp := (sim.Temperature[0] + sim.Temperature[1]) / 2
	hum := (sim.Humidity[0] + sim.Humidity[1]) / 2
	drift := func(v float64, r [2]float64) float64 {
		v += (rnd.Float64() - 0.5) * (r[1] - r[0]) / 8
		return min(max(v, r[0]), r[1])
	}
	for n := 1; ; n++ {
		d.sim.Set(temp, hum)
		if sim.FailEvery > 0 && n%sim.FailEvery == 0 {
			d.sim.FailNext(1)
		}
		if err := t.Sleep(d.spec.Interval); err != nil {
			return err
		}
		temp, hum = drift(temp, sim.Temperature), drift(hum, sim.Humidity)
	}
}

func (d *htu21dDev) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// climateReading is what read says of an HTU21D.
type climateReading struct {
	Temperature float64 `json:"temperature"`
	Humidity    float64 `json:"humidity"`
}

// read measures now.
func (d *htu21dDev) read(t *loop.Task, _ *devEnv) (any, error) {
	if d.dev == nil {
		return nil, errNotRunning
	}
	r, err := d.dev.Read(t)
	if err != nil {
		return nil, err
	}
	return climateReading{Temperature: r.Celsius, Humidity: r.Humidity}, nil
}
