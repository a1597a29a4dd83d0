package agent

import (
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/drivers/adxl345"
	"github.com/edgeagent/edgeagent/drivers/adxl345/adxl345test"
	"github.com/edgeagent/edgeagent/loop"
)

// adxl345Dev is the `adxl345` device: the smoothed acceleration on x, y
// and z, published when it moved beyond the threshold, and a motion
// binary_sensor that turns ON with such a change and OFF after motion_hold
// of calm. Each poll (interval, a second by default) reads every sample the
// chip's FIFO kept since the last: an idle agent wakes once a second and
// misses no shake. Failed polls make the device failing while the driver retries
// and initialises the chip again.
type adxl345Dev struct {
	spec   *config.ADXL345
	hw     Hardware
	sim    *adxl345test.Sensor
	dev    *adxl345.Dev // while run runs
	motion bool
	calm   *loop.Timer
}

func newADXL345(s *config.ADXL345, hw Hardware) (device, error) {
	return &adxl345Dev{spec: s, hw: hw}, nil
}

func (d *adxl345Dev) run(t *loop.Task, env *devEnv) error {
	bus, closeBus, err := openI2C(d.hw, d.spec.Bus, d.spec.Simulate != nil, func() i2c.Bus {
		if d.sim == nil {
			d.sim = adxl345test.New(d.spec.Address, env.l.Now)
		}
		return d.sim
	})
	if err != nil {
		return err
	}
	defer closeBus()
	dev, err := adxl345.New(bus, adxl345.WithAddress(d.spec.Address), adxl345.WithPeriod(d.spec.Interval),
		adxl345.WithRange(d.spec.Range), adxl345.WithRate(d.spec.Rate), adxl345.WithSmoothing(d.spec.Smoothing),
		adxl345.WithThreshold(d.spec.MotionThreshold, d.spec.MotionMode), adxl345.WithFIFO())
	if err != nil {
		return fmt.Errorf("adxl345: %w", err)
	}
	d.dev = dev
	defer func() {
		d.dev = nil
		if d.calm != nil {
			d.calm.Stop()
		}
	}()
	g := loop.NewGroup(t)
	if d.sim != nil {
		d.simulate(env)
		if n := d.spec.Simulate.FailEvery; n > 0 {
			g.Go("simulate", func(t *loop.Task) error {
				for {
					if err := t.Sleep(time.Duration(n) * d.spec.Interval); err != nil {
						return err
					}
					d.sim.FailNext(1)
				}
			})
		}
	}
	g.Go("adxl345", dev.Run)
	g.Go("publish", func(t *loop.Task) error {
		var seen uint64
		first := true
		for {
			s, n, err := dev.Latest().WaitNext(t, seen)
			if err != nil {
				return err
			}
			seen = n
			if s.Err != nil {
				env.failing(fmt.Errorf("%w (failed %d times, retrying in %v)", s.Err, s.Failures, s.RetryIn))
				first = true // after a failure the driver starts over
				continue
			}
			env.ready()
			env.state("x", s.Smoothed.X, s.Time)
			env.state("y", s.Smoothed.Y, s.Time)
			env.state("z", s.Smoothed.Z, s.Time)
			if first {
				first = false
				env.state("motion", d.motion, s.Time)
				continue
			}
			if !s.Still {
				d.moved(env, s.Time)
			}
		}
	})
	return g.Wait(t)
}

// moved turns motion on and (re)starts the calm timer that turns it off.
func (d *adxl345Dev) moved(env *devEnv, at time.Time) {
	if !d.motion {
		d.motion = true
		env.state("motion", true, at)
	}
	if d.calm == nil {
		d.calm = env.l.CallLater(d.spec.MotionHold, func() {
			d.motion = false
			env.state("motion", false, env.now())
		})
		return
	}
	d.calm.Reset(d.spec.MotionHold)
}

// simulate gives the simulated chip a resting signal with noise and a
// shake of a second every ShakeEvery.
func (d *adxl345Dev) simulate(env *devEnv) {
	sim := d.spec.Simulate
	rnd := seeded(env.dev.Name)
	start := env.now()
	d.sim.SetSignal(func(at time.Time) adxl345.Vector {
		v := adxl345.Vector{Z: 1}
		v.X += (rnd.Float64()*2 - 1) * sim.Noise
		v.Y += (rnd.Float64()*2 - 1) * sim.Noise
		v.Z += (rnd.Float64()*2 - 1) * sim.Noise
		if sim.ShakeEvery > 0 {
			if in := at.Sub(start) % sim.ShakeEvery; at.Sub(start) >= sim.ShakeEvery && in < time.Second {
				v.X += 0.5 * math.Sin(2*math.Pi*5*in.Seconds())
			}
		}
		return v
	})
}

func (d *adxl345Dev) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// accelReading is what read says of an accelerometer.
type accelReading struct {
	X, Y, Z float64
	Motion  bool `json:"motion"`
}

// read reads the acceleration now.
func (d *adxl345Dev) read(t *loop.Task, _ *devEnv) (any, error) {
	if d.dev == nil {
		return nil, errNotRunning
	}
	v, err := d.dev.Read(t)
	if err != nil {
		return nil, err
	}
	return accelReading{X: v.X, Y: v.Y, Z: v.Z, Motion: d.motion}, nil
}
