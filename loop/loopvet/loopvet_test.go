package loopvet_test

import (
	"testing"

	"github.com/edgeagent/edgeagent/loop/loopvet"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestAnalyzer checks every case under testdata/src against its // want
// comments: a finding without a want, or a want without its finding, fails.
// The packages are loaded in one go, which is most of the test's time.
//
//   - blocking: check 1, blocking calls in loop code, and the look-alikes;
//   - cancel: check 2, dropped await errors, and handled ones;
//   - escape: check 3, task handles reaching goroutines, channels, globals;
//   - foreign: check 4, loop state used from goroutines, and Post's way;
//   - suppress: //loopvet:ok with and without a reason;
//   - the loop stub itself: its unexported methods are not awaits.
func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), loopvet.Analyzer,
		"blocking", "cancel", "escape", "foreign", "suppress", "example",
		"github.com/edgeagent/edgeagent/loop")
}
