package build

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// changelogHeadRE matches the first line of a Debian changelog entry.
var changelogHeadRE = regexp.MustCompile(`^edgeagent \(([^)]+)\) [a-z-]+; urgency=[a-z]+$`)

// Changelog returns the package's Debian changelog: the released entries
// of history (the hand-written packaging/changelog, may be empty), with an
// entry for a snapshot on top. A release build must find its own version
// as the newest entry of history.
func Changelog(src Source, maintainer string, history []byte) ([]byte, error) {
	var first string
	sc := bufio.NewScanner(strings.NewReader(string(history)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == ' ' {
			continue
		}
		m := changelogHeadRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("packaging/changelog:%d: %q is not an entry head like \"edgeagent (0.2.0) unstable; urgency=medium\"", n, line)
		}
		if first == "" {
			first = m[1]
		}
	}
	if src.Release && !src.Dirty {
		if first != src.Version {
			return nil, fmt.Errorf("release %s: packaging/changelog must start with its entry (newest entry: %q)", src.Version, first)
		}
		return history, nil
	}

	var b strings.Builder
	fmt.Fprintf(&b, "edgeagent (%s) unstable; urgency=medium\n\n", src.Version)
	what := "Snapshot built from source without version control history."
	if src.Commit != "" {
		what = fmt.Sprintf("Snapshot of commit %s: %s", src.Commit[:12], src.Subject)
		if src.Dirty {
			what += " (with uncommitted changes)"
		}
	}
	for i, line := range wrap(what, 74) {
		indent := "  * "
		if i > 0 {
			indent = "    "
		}
		b.WriteString(indent + line + "\n")
	}
	// RFC 5322 date, as dpkg-parsechangelog expects.
	fmt.Fprintf(&b, "\n -- %s  %s\n", maintainer, src.Epoch.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	if len(history) > 0 {
		b.WriteString("\n")
		b.Write(history)
	}
	return []byte(b.String()), nil
}

// readOptional returns a file's contents, or nothing when it does not exist.
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	return b, err
}

// wrap breaks text into lines of at most width characters at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
