package agent

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/edgeagent/edgeagent/agent/config"
	"github.com/edgeagent/edgeagent/agent/sysinfo"
	"github.com/edgeagent/edgeagent/loop"
)

// system is the `system` device: the host's CPU temperature, load and
// uptime, and the agent's own memory, outbox depth and failing devices, read
// every interval. The readings are plain blocking file reads, so they run
// through loop.Offload. A reading the machine does not have (no thermal
// zone in a VM or container) is left out, logged once, and does not fail
// the device.
type system struct {
	spec  *config.System
	agent *Agent
	rnd   *rand.Rand // the simulated CPU temperature's drift
	temp  float64
	zone  *sysinfo.Zone
	noted map[string]bool // values reported as unavailable
}

func newSystem(s *config.System) (device, error) {
	return &system{spec: s, noted: map[string]bool{}}, nil
}

func (s *system) setAgent(a *Agent) { s.agent = a }

// seeded returns a random source seeded by a name, so a simulation does the
// same in every run.
func seeded(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15))
}

// hostReading is what one reading of the host gives.
type hostReading struct {
	values map[string]float64
	errs   map[string]error
}

func (s *system) run(t *loop.Task, env *devEnv) error {
	if sim := s.spec.Simulate; sim != nil {
		s.rnd = seeded(env.dev.Name)
		s.temp = (sim.CPUTemperature[0] + sim.CPUTemperature[1]) / 2
	}
	for {
		r, err := s.readHost(t)
		if err != nil {
			return err
		}
		at := env.now()
		for _, name := range s.spec.Values {
			if v, ok := r.values[name]; ok {
				env.state(name, v, at)
			} else if e := r.errs[name]; e != nil && !s.noted[name] {
				s.noted[name] = true
				env.log.Info("system value not available on this machine; not reported", "value", name, "err", e)
			}
		}
		env.ready()
		if err := sleepAligned(t, s.spec.Interval); err != nil {
			return err
		}
	}
}

// readHost reads the values, the host's off the loop.
func (s *system) readHost(t *loop.Task) (hostReading, error) {
	zone := s.zone
	r, err := loop.Offload(t, func(context.Context) (hostReading, error) {
		r := hostReading{values: map[string]float64{}, errs: map[string]error{}}
		if s.spec.Simulate == nil && wants(s.spec, config.SystemCPUTemperature) {
			if zone == nil {
				z, err := sysinfo.FindZone("/", s.spec.ThermalZone)
				if err == nil {
					zone = &z
				} else {
					r.errs[config.SystemCPUTemperature] = err
				}
			}
			if zone != nil {
				if c, err := zone.Temperature(); err == nil {
					r.values[config.SystemCPUTemperature] = c
				} else {
					r.errs[config.SystemCPUTemperature] = err
				}
			}
		}
		if l, err := sysinfo.ReadLoad("/"); err == nil {
			r.values[config.SystemLoad] = l.Avg1
		} else {
			r.errs[config.SystemLoad] = err
		}
		if u, err := sysinfo.ReadUptime("/"); err == nil {
			r.values[config.SystemUptime] = u.Seconds()
		} else {
			r.errs[config.SystemUptime] = err
		}
		if p, err := sysinfo.ReadProcess("/"); err == nil {
			r.values[config.SystemMemory] = float64(p.RSS) / 1e6
		} else {
			r.errs[config.SystemMemory] = err
		}
		return r, nil
	})
	if err != nil {
		return r, err
	}
	if zone != nil && s.zone == nil && !errors.Is(r.errs[config.SystemCPUTemperature], sysinfo.ErrNotAvailable) {
		s.zone = zone
	}
	if sim := s.spec.Simulate; sim != nil {
		lo, hi := sim.CPUTemperature[0], sim.CPUTemperature[1]
		s.temp += (s.rnd.Float64() - 0.5) * (hi - lo) / 10
		s.temp = min(max(s.temp, lo), hi)
		// A real thermal zone reads in millidegrees; so does the simulation.
		r.values[config.SystemCPUTemperature] = math.Round(s.temp*1000) / 1000
	}
	if a := s.agent; a != nil {
		if a.b != nil {
			r.values[config.SystemOutbox] = float64(a.b.Stats().Outbox.Pending)
		}
		failing := 0
		for _, d := range a.devs {
			if d.state == StateFailing || d.state == StateRestarting {
				failing++
			}
		}
		r.values[config.SystemDeviceErrors] = float64(failing)
	}
	return r, nil
}

func wants(s *config.System, value string) bool {
	for _, v := range s.Values {
		if v == value {
			return true
		}
	}
	return false
}

func (s *system) command(*loop.Task, *devEnv, *config.Value, []byte) error { return errNoCommands }

// read reads the host now.
func (s *system) read(t *loop.Task, _ *devEnv) (any, error) {
	r, err := s.readHost(t)
	if err != nil {
		return nil, err
	}
	return r.values, nil
}
