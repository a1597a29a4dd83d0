package led_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/drivers/internal/drivertest"
	"github.com/edgeagent/edgeagent/drivers/led"
	"github.com/edgeagent/edgeagent/loop"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// recPin is a gpiotest pin that records what is written to it, with the
// virtual time since the clock's start: "H@100ms", "L@0s", "pwm25%@1s".
type recPin struct {
	gpiotest.Pin
	vc    *loop.VirtualClock
	log   []string
	noPWM bool
}

func (p *recPin) Out(l gpio.Level) error {
	p.log = append(p.log, fmt.Sprintf("%s@%v", l.String()[:1], p.vc.Elapsed()))
	return p.Pin.Out(l)
}

func (p *recPin) PWM(d gpio.Duty, f physic.Frequency) error {
	if p.noPWM {
		return errors.New("recPin: no PWM here")
	}
	p.log = append(p.log, fmt.Sprintf("pwm%v@%v", d, p.vc.Elapsed()))
	return p.Pin.PWM(d, f)
}

func (p *recPin) String() string { return "GPIO26" }

func (p *recPin) take() string {
	s := strings.Join(p.log, " ")
	p.log = nil
	return s
}

// setup returns a virtual-clock loop and an LED on a recording pin, its
// initial write (off) already taken from the log.
func setup(t *testing.T, opts ...led.Option) (*loop.Loop, *recPin, *led.LED) {
	t.Helper()
	vc := loop.NewVirtualClock()
	pin := &recPin{vc: vc}
	d, err := led.New(pin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	pin.take()
	return loop.New(loop.WithClock(vc)), pin, d
}

func run(t *testing.T, l *loop.Loop, main loop.TaskFunc) {
	t.Helper()
	if err := l.Run(context.Background(), main); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot  %s\nwant %s", what, got, want)
	}
}

func TestOnOffToggle(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		for _, f := range []func() error{d.On, d.On, d.Toggle, d.Toggle, d.Off} {
			if err := f(); err != nil {
				return err
			}
			if err := tk.Sleep(ms(10)); err != nil {
				return err
			}
		}
		return nil
	})
	// The second On changes nothing, so it writes nothing.
	check(t, "writes", pin.take(), "H@0s L@20ms H@30ms L@40ms")
}

func TestActiveLow(t *testing.T) {
	vc := loop.NewVirtualClock()
	pin := &recPin{vc: vc}
	d, err := led.New(pin, led.ActiveLow())
	if err != nil {
		t.Fatal(err)
	}
	run(t, loop.New(loop.WithClock(vc)), func(tk *loop.Task) error {
		if err := d.On(); err != nil {
			return err
		}
		return d.SetBrightness(0.25)
	})
	check(t, "writes", pin.take(), "H@0s L@0s pwm75%@0s")
}

func TestBlinkPatternTiming(t *testing.T) {
	l, pin, d := setup(t)
	var returned time.Duration
	run(t, l, func(tk *loop.Task) error {
		if err := d.Blink(tk, led.Blinking(ms(100), ms(400), 3)); err != nil {
			return err
		}
		returned = tk.Loop().Now().Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		return nil
	})
	check(t, "writes", pin.take(), "H@0s L@100ms H@500ms L@600ms H@1s L@1.1s")
	if returned != ms(1500) {
		t.Errorf("Blink returned at %v, want 1.5s", returned)
	}
}

// A multi-step pattern (SOS-like) with a zero step, on an LED that was on:
// it is back on after the pattern.
func TestPatternRestoresState(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		if err := d.On(); err != nil {
			return err
		}
		p := led.Pattern{Steps: []time.Duration{ms(50), ms(50), ms(150), ms(50), 0, ms(100)}, Repeat: 1}
		return d.Blink(tk, p)
	})
	check(t, "writes", pin.take(), "H@0s L@50ms H@100ms L@250ms H@400ms")
}

func TestForeverPatternCancelled(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		err := loop.WaitFor(tk, ms(1250), func(tk *loop.Task) error {
			return d.Blink(tk, led.Blinking(ms(200), ms(300), 0))
		})
		if !errors.Is(err, loop.ErrTimeout) {
			return fmt.Errorf("Blink: %v, want the scope's timeout", err)
		}
		return nil
	})
	check(t, "writes", pin.take(), "H@0s L@200ms H@500ms L@700ms H@1s L@1.2s")
}

func TestHeartbeat(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		err := loop.WaitFor(tk, ms(2100), func(tk *loop.Task) error { return d.Blink(tk, led.Heartbeat(time.Second)) })
		if !errors.Is(err, loop.ErrTimeout) {
			return err
		}
		return nil
	})
	check(t, "writes", pin.take(),
		"H@0s L@70ms H@250ms L@320ms H@1s L@1.07s H@1.25s L@1.32s H@2s L@2.07s")
}

// On during a pattern ends it at once: Blink returns ErrInterrupted and
// leaves the LED on.
func TestRequestInterruptsPattern(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		blink := g.Go("blink", func(tk *loop.Task) error { return d.Blink(tk, led.Blinking(ms(100), ms(100), 0)) })
		if err := tk.Sleep(ms(250)); err != nil {
			return err
		}
		if err := d.On(); err != nil {
			return err
		}
		if err := blink.Wait(tk); !errors.Is(err, led.ErrInterrupted) {
			return fmt.Errorf("Blink: %v, want ErrInterrupted", err)
		}
		if tk.Loop().Now().Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) != ms(250) {
			return errors.New("Blink did not end at once")
		}
		return tk.Sleep(time.Second)
	})
	check(t, "writes", pin.take(), "H@0s L@100ms H@200ms")
	if !d.IsOn() {
		t.Error("not on")
	}
}

// Run plays what Play hands it; a newer Play replaces the pattern, Stop
// ends it, and a finite pattern leaves the LED as it was.
func TestRunPlayStop(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("led", d.Run)
		for _, step := range []struct {
			at time.Duration
			do func() error
		}{
			{0, func() error { return d.Play(led.Blinking(ms(100), ms(100), 0)) }},
			{ms(350), func() error { return d.Play(led.Blinking(ms(500), ms(500), 0)) }},
			{ms(1000), d.Stop},
			{ms(1200), d.On},
			{ms(1300), func() error { return d.Play(led.Blinking(ms(50), ms(50), 2)) }},
		} {
			if err := tk.Sleep(step.at - tk.Loop().Now().Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))); err != nil {
				return err
			}
			if err := step.do(); err != nil {
				return err
			}
		}
		if err := tk.Sleep(time.Second); err != nil {
			return err
		}
		return g.Stop(tk)
	})
	check(t, "writes", pin.take(),
		"H@0s L@100ms H@200ms L@300ms H@350ms L@850ms H@1.2s L@1.35s H@1.4s L@1.45s H@1.5s")
}

func TestBrightness(t *testing.T) {
	l, pin, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		for _, b := range []float64{0.25, 1, 0.5, 0} {
			if err := d.SetBrightness(b); err != nil {
				return err
			}
		}
		if d.IsOn() || d.Brightness() != 0.5 {
			return fmt.Errorf("after 0: on %v brightness %v; want off, 0.5 kept", d.IsOn(), d.Brightness())
		}
		// A pattern's on steps use the brightness.
		return d.Blink(tk, led.Blinking(ms(100), ms(100), 1))
	})
	check(t, "writes", pin.take(), "pwm25%@0s H@0s pwm50%@0s L@0s pwm50%@0s L@100ms")
}

func TestBrightnessWithoutPWM(t *testing.T) {
	l, pin, d := setup(t)
	pin.noPWM = true
	run(t, l, func(tk *loop.Task) error {
		err := d.SetBrightness(0.5)
		if !errors.Is(err, led.ErrNoPWM) || !strings.Contains(err.Error(), "GPIO26") {
			return fmt.Errorf("SetBrightness(0.5): %v, want ErrNoPWM naming the pin", err)
		}
		if d.IsOn() || d.Brightness() != 1 {
			return fmt.Errorf("after a failed SetBrightness: on %v brightness %v; want unchanged", d.IsOn(), d.Brightness())
		}
		return d.SetBrightness(1) // no PWM needed
	})
	check(t, "writes", pin.take(), "H@0s")
}

func TestBadInput(t *testing.T) {
	l, _, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		for _, b := range []float64{-0.1, 1.5, math.NaN()} {
			if err := d.SetBrightness(b); err == nil || !strings.Contains(err.Error(), "want 0 to 1") {
				t.Errorf("SetBrightness(%v): %v", b, err)
			}
		}
		for _, tc := range []struct {
			p    led.Pattern
			want string
		}{
			{led.Pattern{}, "0 steps"},
			{led.Pattern{Steps: []time.Duration{ms(1)}}, "1 steps"},
			{led.Pattern{Steps: []time.Duration{ms(1), -ms(1)}}, "step 1 is -1ms"},
			{led.Pattern{Steps: []time.Duration{0, 0}}, "lasts 0s"},
			{led.Pattern{Steps: []time.Duration{ms(1), ms(1)}, Repeat: -1}, "repeat -1"},
			{led.Heartbeat(0), "lasts 0s"},
		} {
			if err := d.Blink(tk, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Blink(%v): %v, want %q", tc.p, err, tc.want)
			}
			if err := d.Play(tc.p); err == nil {
				t.Errorf("Play(%v): no error", tc.p)
			}
		}
		return nil
	})
	if _, err := led.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
	if _, err := led.New(&gpiotest.Pin{}, led.WithPWMFrequency(-1)); err == nil {
		t.Error("negative PWM frequency: no error")
	}
}

func TestRunTwice(t *testing.T) {
	l, _, d := setup(t)
	run(t, l, func(tk *loop.Task) error {
		g := loop.NewGroup(tk)
		g.Go("led", d.Run)
		if err := tk.Yield(); err != nil {
			return err
		}
		if err := d.Run(tk); !errors.Is(err, led.ErrRunning) {
			t.Errorf("second Run: %v, want ErrRunning", err)
		}
		return g.Stop(tk)
	})
}

// outLog logs every level written to a pin.
type outLog struct {
	*gpiointest.Pin
	levels []gpio.Level
}

func (p *outLog) Out(l gpio.Level) error {
	p.levels = append(p.levels, l)
	return p.Pin.Out(l)
}

// Blink on a cancelled task fails at once and does not touch the pin: it
// does not flash the pattern's first step.
func TestBlinkCheckpoint(t *testing.T) {
	pin := &outLog{Pin: gpiointest.NewPin("led", gpio.Low)}
	d, err := led.New(pin)
	if err != nil {
		t.Fatal(err)
	}
	var blinkErr error
	drivertest.NewWorld().Run(t, func(tk *loop.Task) error {
		tk.Cancel()
		blinkErr = d.Blink(tk, led.Blinking(100*time.Millisecond, 100*time.Millisecond, 1))
		return nil
	})
	if !errors.Is(blinkErr, loop.ErrCancelled) || fmt.Sprint(pin.levels) != "[Low]" {
		t.Errorf("Blink on a cancelled task: %v, pin written %v; want ErrCancelled, [Low] (New's off only)", blinkErr, pin.levels)
	}
}
