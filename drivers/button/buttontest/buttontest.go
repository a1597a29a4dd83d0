// Package buttontest presses a simulated button: gestures — a click, a
// double-click, a press held 1.2 s — played onto a gpiointest.Pin, for
// tests and demos of code that uses the button driver, and a small text
// form of them ("click, double, press 1.2s, pause 2s") for scripts and
// configuration.
//
// Gestures are timed on the loop's clock, exactly on a virtual one. The
// package must not be used with real hardware, and it keeps no
// package-level state.
package buttontest

import (
	"fmt"
	"strings"
	"time"

	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
	"github.com/edgeagent/edgeagent/loop"
	"periph.io/x/conn/v3/gpio"
)

// Timings of the gestures, chosen well inside the button driver's
// defaults (50 ms debounce, 400 ms double-click, 1 s long press).
const (
	ClickTime  = 100 * time.Millisecond // how long a click holds the button
	DoubleGap  = 150 * time.Millisecond // release between the two clicks of a double-click
	DefaultGap = 600 * time.Millisecond // rest after each gesture: the double-click window closes
)

// A Gesture is what a finger does: presses of given lengths with given
// releases between them. Its String is its text form.
type Gesture struct {
	name  string
	downs []time.Duration // each press's length; 0 presses: a pause
	ups   []time.Duration // the release after each press but the last; for a pause, its length
}

func (g Gesture) String() string { return g.name }

// Click is a short press: held ClickTime, then released.
func Click() Gesture { return Gesture{name: "click", downs: []time.Duration{ClickTime}} }

// Double is a double-click: two clicks DoubleGap apart.
func Double() Gesture {
	return Gesture{name: "double", downs: []time.Duration{ClickTime, ClickTime}, ups: []time.Duration{DoubleGap}}
}

// Press holds the button for d, then releases it: with the driver's
// defaults, a long press from 1 s on.
func Press(d time.Duration) Gesture {
	return Gesture{name: "press " + d.String(), downs: []time.Duration{d}}
}

// Pause leaves the button alone for d.
func Pause(d time.Duration) Gesture {
	return Gesture{name: "pause " + d.String(), ups: []time.Duration{d}}
}

// Parse reads gestures in their text form, separated by commas or new
// lines: "click", "double", "press DURATION", "pause DURATION" (durations
// as Go writes them: 1.2s, 300ms). An error names the gesture that is
// wrong and its position.
func Parse(script string) ([]Gesture, error) {
	var out []Gesture
	fields := strings.FieldsFunc(script, func(r rune) bool { return r == ',' || r == '\n' })
	for i, f := range fields {
		words := strings.Fields(f)
		if len(words) == 0 {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("buttontest: gesture %d %q: %s (want click, double, press DURATION or pause DURATION)", i+1, strings.TrimSpace(f), why)
		}
		switch words[0] {
		case "click", "double":
			if len(words) != 1 {
				return nil, bad("takes no duration")
			}
			if words[0] == "click" {
				out = append(out, Click())
			} else {
				out = append(out, Double())
			}
		case "press", "pause":
			if len(words) != 2 {
				return nil, bad("needs one duration")
			}
			d, err := time.ParseDuration(words[1])
			if err != nil || d <= 0 {
				return nil, bad(fmt.Sprintf("%q is not a positive duration", words[1]))
			}
			if words[0] == "press" {
				out = append(out, Press(d))
			} else {
				out = append(out, Pause(d))
			}
		default:
			return nil, bad("unknown gesture")
		}
	}
	return out, nil
}

// A Player plays gestures onto the pin of a button. The zero value of each
// field but Pin is the usual button: wired to ground (pressed is low), no
// bounce, DefaultGap between gestures.
type Player struct {
	Pin *gpiointest.Pin
	// ActiveHigh: the button pulls the pin high when pressed.
	ActiveHigh bool
	// Gap is the rest after each gesture but a pause (0: DefaultGap).
	Gap time.Duration
	// Bounce adds that many 1 ms bounce pulses after each change's first
	// edge, as a mechanical contact does.
	Bounce int
}

// Play plays gestures from now on t's clock and returns when the last has
// ended (its gap included), or t's interruption. Like gpiointest.Pin.Play,
// it first waits until the button's driver watches the pin.
func (p *Player) Play(t *loop.Task, gestures ...Gesture) error {
	return p.Pin.Play(t, p.Steps(gestures...)...)
}

// Steps returns the level changes of gestures, from time 0.
func (p *Player) Steps(gestures ...Gesture) []gpiointest.Step {
	gap := p.Gap
	if gap <= 0 {
		gap = DefaultGap
	}
	pressed := gpio.Level(p.ActiveHigh)
	var steps []gpiointest.Step
	var at time.Duration
	set := func(level gpio.Level) {
		steps = append(steps, gpiointest.Step{At: at, Level: level})
		for range p.Bounce { // a pulse back, 1 ms, and forth
			steps = append(steps, gpiointest.Step{At: at + time.Millisecond, Level: !level}, gpiointest.Step{At: at + 2*time.Millisecond, Level: level})
			at += 2 * time.Millisecond
		}
	}
	for _, g := range gestures {
		if len(g.downs) == 0 {
			at += g.ups[0]
			continue
		}
		for i, d := range g.downs {
			start := at
			set(pressed)
			at = start + d
			set(!pressed)
			at = start + d // the release, the gap after it, counts from its first edge
			if i < len(g.ups) {
				at += g.ups[i]
			}
		}
		at += gap
	}
	if len(gestures) > 0 {
		// No change, at the end of the last gap or pause: Play waits for it.
		steps = append(steps, gpiointest.Step{At: at, Level: !pressed})
	}
	return steps
}

// Play plays gestures onto pin with a Player's defaults.
func Play(t *loop.Task, pin *gpiointest.Pin, gestures ...Gesture) error {
	p := Player{Pin: pin}
	return p.Play(t, gestures...)
}
