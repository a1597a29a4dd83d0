package build

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Source describes the tree being packaged: the package version and the
// time stamped into every file of the package.
type Source struct {
	// Version is the Debian version: "0.2.0" for a tree at tag v0.2.0,
	// "0.2.0~git20261202153333.7a3fb1e" between tags (VERSION names the next
	// release, so a snapshot sorts below it and above the previous one),
	// with ".dirty" appended when the work tree has uncommitted changes.
	Version string
	// Epoch is SOURCE_DATE_EPOCH when set, else the commit time.
	Epoch time.Time
	// Commit is the full commit id; empty outside a git work tree.
	Commit string
	// Subject is the commit's subject line, for the changelog.
	Subject string
	// Release is true when the tree is exactly a release tag.
	Release bool
	// Dirty is true when tracked or new files differ from the commit.
	Dirty bool
}

var (
	baseVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	tagRE         = regexp.MustCompile(`^v([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.]+))?$`)
)

// ResolveSource works out the version and time stamp of the tree at root.
// getenv supplies SOURCE_DATE_EPOCH (os.Getenv outside tests).
func ResolveSource(root string, getenv func(string) string) (Source, error) {
	versionFile := filepath.Join(root, "packaging", "VERSION")
	raw, err := os.ReadFile(versionFile)
	if err != nil {
		return Source{}, fmt.Errorf("reading the next release's version: %w", err)
	}
	base := strings.TrimSpace(string(raw))
	if !baseVersionRE.MatchString(base) {
		return Source{}, fmt.Errorf("%s: %q is not a release version like 0.1.0", versionFile, base)
	}

	var src Source
	commit, err := git(root, "rev-parse", "--verify", "HEAD")
	switch {
	case errors.Is(err, errNoGit):
		// A source export without history: the next release's version,
		// marked as built from source, and the time must come from outside
		// or from the VERSION file.
		src.Version = base + "~src"
		fi, err := os.Stat(versionFile)
		if err != nil {
			return Source{}, err
		}
		src.Epoch = fi.ModTime().UTC().Truncate(time.Second)
	case err != nil:
		return Source{}, err
	default:
		if src, err = resolveGit(root, base, commit); err != nil {
			return Source{}, err
		}
	}

	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return Source{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a count of seconds since 1970", s)
		}
		src.Epoch = time.Unix(n, 0).UTC()
	}
	return src, nil
}

func resolveGit(root, base, commit string) (Source, error) {
	src := Source{Commit: commit}
	info, err := git(root, "log", "-1", "--format=%ct%n%s", commit)
	if err != nil {
		return src, err
	}
	ct, subject, _ := strings.Cut(info, "\n")
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return src, fmt.Errorf("git log: commit time %q: %w", ct, err)
	}
	src.Epoch = time.Unix(secs, 0).UTC()
	src.Subject = subject

	status, err := git(root, "status", "--porcelain")
	if err != nil {
		return src, err
	}
	src.Dirty = status != ""

	if tag, err := git(root, "describe", "--tags", "--exact-match", "--match", "v[0-9]*", commit); err == nil {
		m := tagRE.FindStringSubmatch(tag)
		if m == nil {
			return src, fmt.Errorf("tag %q is not a release tag like v0.2.0 or v0.2.0-rc1", tag)
		}
		src.Version, src.Release = m[1], true
		if m[2] != "" {
			// v0.2.0-rc1 → 0.2.0~rc1, which dpkg sorts before 0.2.0.
			src.Version += "~" + m[2]
		}
	} else {
		// Between tags: VERSION must name a release above the last tag,
		// or snapshots would sort below a release they come after.
		if last, err := git(root, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", commit); err == nil {
			if m := tagRE.FindStringSubmatch(last); m != nil && compareRelease(m[1], base) >= 0 {
				return src, fmt.Errorf("packaging/VERSION is %s but the last release tag is %s: VERSION must name the next release", base, last)
			}
		}
		src.Version = fmt.Sprintf("%s~git%s.%s", base, src.Epoch.Format("20060102150405"), commit[:7])
	}
	if src.Dirty {
		src.Version += ".dirty"
	}
	return src, nil
}

// compareRelease orders two X.Y.Z versions.
func compareRelease(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range pa {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

var errNoGit = errors.New("not a git work tree")

// git runs a git command in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", errNoGit
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return "", errNoGit
	}
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
