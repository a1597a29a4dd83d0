package agent

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/edgeagent/edgeagent/loop"
)

// debug.hang is refused while debug.allow_hang is off, with the key to set
// named; a reload that turns the switch on lets it hang the loop (for a
// bounded time here), replying first; a bad duration is refused; a reload
// that turns the switch off refuses it again.
func TestDebugHang(t *testing.T) {
	h := start(t, baseConfig)
	h.on(func(t *loop.Task) error {
		// The bridge subscribes to the requests before it says "online".
		if err := h.waitPayload(t, "edgeagent/test/availability", func(p string) bool { return p == "online" }); err != nil {
			return err
		}
		r, err := h.callOn(t, MethodDebugHang, nil)
		if err != nil {
			return err
		}
		if !strings.Contains(r.Error, "debug.hang is refused") || !strings.Contains(r.Error, "allow_hang: true") ||
			!strings.Contains(r.Error, "config.yaml") || r.Result != nil {
			return fmt.Errorf("debug.hang without debug.allow_hang replied %+v", r)
		}

		h.writeConfig(baseConfig + "debug: {allow_hang: true}\n")
		if r, err = h.callOn(t, MethodReload, nil); err != nil || r.Error != "" {
			return fmt.Errorf("reload: %v %+v", err, r)
		}
		if r, err = h.callOn(t, MethodDebugHang, map[string]string{"for": "soon"}); err != nil {
			return err
		}
		if !strings.Contains(r.Error, `"for": "soon"`) {
			return fmt.Errorf("a bad duration replied %+v", r)
		}
		const hang = 200 // ms
		if r, err = h.callOn(t, MethodDebugHang, map[string]string{"for": fmt.Sprintf("%dms", hang)}); err != nil {
			return err
		}
		var got HangReply
		if err := json.Unmarshal(r.Result, &got); err != nil || !got.Hanging || got.For != "200ms" {
			return fmt.Errorf("debug.hang replied %+v %s", r, r.Result)
		}
		// The loop answers again after the hang, and its stall detector
		// saw one run that long without awaiting (sampled every 12.5 ms).
		if r, err = h.callOn(t, MethodStatus, nil); err != nil {
			return err
		}
		var st Status
		if err := json.Unmarshal(r.Result, &st); err != nil {
			return err
		}
		if st.Loop.MaxRunMS < hang/2 {
			return fmt.Errorf("the loop's longest run is %.1f ms after a %d ms hang", st.Loop.MaxRunMS, hang)
		}
		if !h.logs.has("debug.hang: the loop is blocked on purpose") || !h.logs.has("debug.hang: the loop runs again") {
			return fmt.Errorf("the hang was not logged")
		}

		// And a reload turns it off again.
		h.writeConfig(baseConfig)
		if r, err = h.callOn(t, MethodReload, nil); err != nil || r.Error != "" {
			return fmt.Errorf("reload: %v %+v", err, r)
		}
		if r, err = h.callOn(t, MethodDebugHang, map[string]string{"for": "1ms"}); err != nil {
			return err
		}
		if !strings.Contains(r.Error, "debug.hang is refused") {
			return fmt.Errorf("debug.hang after a reload without debug.allow_hang replied %+v", r)
		}
		return nil
	})
}
