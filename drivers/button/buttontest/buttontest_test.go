package buttontest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/drivers/button/buttontest"
	"github.com/edgeagent/edgeagent/drivers/gpioin/gpiointest"
)

func steps(s []gpiointest.Step) string {
	var b []string
	for _, st := range s {
		b = append(b, fmt.Sprintf("%v@%v", st.Level, st.At))
	}
	return strings.Join(b, " ")
}

// The level changes of each gesture, active low and high, with bounce.
func TestSteps(t *testing.T) {
	for _, c := range []struct {
		p    buttontest.Player
		g    []buttontest.Gesture
		want string
	}{
		{buttontest.Player{}, []buttontest.Gesture{buttontest.Click()}, "Low@0s High@100ms High@700ms"},
		{buttontest.Player{ActiveHigh: true, Gap: time.Second}, []buttontest.Gesture{buttontest.Double()},
			"High@0s Low@100ms High@250ms Low@350ms Low@1.35s"},
		{buttontest.Player{}, []buttontest.Gesture{buttontest.Pause(time.Second), buttontest.Press(1200 * time.Millisecond)},
			"Low@1s High@2.2s High@2.8s"},
		{buttontest.Player{Bounce: 1}, []buttontest.Gesture{buttontest.Click()},
			"Low@0s High@1ms Low@2ms High@100ms Low@101ms High@102ms High@700ms"},
		{buttontest.Player{}, nil, ""},
	} {
		if got := steps(c.p.Steps(c.g...)); got != c.want {
			t.Errorf("%+v %v:\n got %s\nwant %s", c.p, c.g, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	g, err := buttontest.Parse("click, double,\npress 1.2s ,pause 300ms,")
	if err != nil || fmt.Sprint(g) != "[click double press 1.2s pause 300ms]" {
		t.Errorf("Parse = %v, %v", g, err)
	}
	for _, c := range []struct{ in, want string }{
		{"click, tap", `buttontest: gesture 2 "tap": unknown gesture (want click, double, press DURATION or pause DURATION)`},
		{"press", `buttontest: gesture 1 "press": needs one duration`},
		{"click 1s", `buttontest: gesture 1 "click 1s": takes no duration`},
		{"pause -1s", `buttontest: gesture 1 "pause -1s": "-1s" is not a positive duration`},
		{"press 2 s", `buttontest: gesture 1 "press 2 s": needs one duration`},
	} {
		if _, err := buttontest.Parse(c.in); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %s…", c.in, err, c.want)
		}
	}
}
