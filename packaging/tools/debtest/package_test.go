package debtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeagent/edgeagent/packaging/tools/build"
)

// shippedFiles are the files every package must hold, with their mode
// and owner as `dpkg-deb --contents` shows them. Manual pages, one per
// visible command, come on top.
var shippedFiles = map[string]string{
	"./usr/bin/edgeagent":                                  "-rwxr-xr-x root/root",
	"./etc/edgeagent/config.yaml":                          "-rw-r--r-- root/root",
	"./usr/share/doc/edgeagent/examples/config.yaml":       "-rw-r--r-- root/root",
	"./lib/systemd/system/edgeagent.service":               "-rw-r--r-- root/root",
	"./usr/share/man/man1/edgeagent.1.gz":                  "-rw-r--r-- root/root",
	"./usr/share/man/man1/edgeagent-version.1.gz":          "-rw-r--r-- root/root",
	"./usr/share/bash-completion/completions/edgeagent":    "-rw-r--r-- root/root",
	"./usr/share/zsh/vendor-completions/_edgeagent":        "-rw-r--r-- root/root",
	"./usr/share/fish/vendor_completions.d/edgeagent.fish": "-rw-r--r-- root/root",
	"./usr/share/doc/edgeagent/copyright":                  "-rw-r--r-- root/root",
	"./usr/share/doc/edgeagent/changelog.gz":               "-rw-r--r-- root/root",
	"./usr/share/doc/edgeagent/README.Debian":              "-rw-r--r-- root/root",
	"./usr/share/doc/edgeagent/configuration.md":           "-rw-r--r-- root/root",
	"./usr/share/lintian/overrides/edgeagent":              "-rw-r--r-- root/root",
}

// copiedFiles are shipped exactly as they are in packaging/.
var copiedFiles = map[string]string{
	"etc/edgeagent/config.yaml":                    "config.yaml",
	"usr/share/doc/edgeagent/examples/config.yaml": "examples/config.yaml",
	"lib/systemd/system/edgeagent.service":         "edgeagent.service",
	"usr/share/doc/edgeagent/README.Debian":        "README.Debian",
	"usr/share/doc/edgeagent/configuration.md":     "../docs/configuration.md",
	"usr/share/lintian/overrides/edgeagent":        "lintian-overrides",
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "armhf": elf.EM_ARM}

func TestPackageContents(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	for _, p := range env.built.Packages {
		t.Run(p.Arch, func(t *testing.T) {
			listing := mustRun(t, time.Minute, "dpkg-deb", "--contents", p.Path)
			files := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("unexpected dpkg-deb line %q", line)
				}
				perm, owner, path := f[0], f[1], f[5]
				if owner != "root/root" {
					t.Errorf("%s is owned by %s, want root/root", path, owner)
				}
				if perm[5] == 'w' || perm[8] == 'w' {
					t.Errorf("%s is writable by group or others: %s", path, perm)
				}
				if perm[0] == '-' {
					files[path] = perm + " " + owner
				}
			}
			for path, want := range shippedFiles {
				if got, ok := files[path]; !ok {
					t.Errorf("missing %s", path)
				} else if got != want {
					t.Errorf("%s is %q, want %q", path, got, want)
				}
			}
			for path := range files {
				_, known := shippedFiles[path]
				manPage := regexp.MustCompile(`^\./usr/share/man/man1/edgeagent-[a-z-]+\.1\.gz$`).MatchString(path)
				if !known && !manPage {
					t.Errorf("unexpected file %s", path)
				}
			}
			if _, ok := files["./usr/share/man/man1/edgeagent-man.1.gz"]; ok {
				t.Error("the hidden 'man' command has a manual page")
			}

			control := mustRun(t, time.Minute, "dpkg-deb", "--field", p.Path)
			for _, want := range []string{
				"Package: edgeagent\n",
				"Version: " + env.built.Source.Version + "\n",
				"Architecture: " + p.Arch + "\n",
				"Depends: adduser, procps\n",
			} {
				if !strings.Contains(control, want) {
					t.Errorf("control lacks %q:\n%s", strings.TrimSpace(want), control)
				}
			}
			conffiles := mustRun(t, time.Minute, "sh", "-c", "dpkg-deb --ctrl-tarfile '"+p.Path+"' | tar -xO ./conffiles")
			if strings.TrimSpace(conffiles) != "/etc/edgeagent/config.yaml" {
				t.Errorf("conffiles = %q, want only /etc/edgeagent/config.yaml", conffiles)
			}

			root := extract(t, p.Path)
			for inPkg, inTree := range copiedFiles {
				got, err := os.ReadFile(filepath.Join(root, inPkg))
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join(env.root, "packaging", inTree))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("/%s differs from packaging/%s", inPkg, inTree)
				}
			}
			checkDocReferences(t, files)
			checkBinary(t, p.Arch, filepath.Join(root, "usr/bin/edgeagent"))
			checkCompletions(t, root)
			checkChangelog(t, filepath.Join(root, "usr/share/doc/edgeagent/changelog.gz"))
			checkCopyright(t, filepath.Join(root, "usr/share/doc/edgeagent/copyright"), filepath.Join(root, "usr/bin/edgeagent"))
		})
	}
}

// docPathRE finds paths into the package's documentation directory.
var docPathRE = regexp.MustCompile(`/usr/share/doc/edgeagent/[A-Za-z0-9_./-]*[A-Za-z0-9_]`)

// checkDocReferences: every /usr/share/doc/edgeagent path that a shipped
// file names (the default configuration points to the reference and the
// example) is in the package.
func checkDocReferences(t *testing.T, files map[string]string) {
	t.Helper()
	for _, src := range []string{"config.yaml", "examples/config.yaml", "README.Debian", "edgeagent.service"} {
		b, err := os.ReadFile(filepath.Join(env.root, "packaging", src))
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range docPathRE.FindAllString(string(b), -1) {
			if !holds(files, "."+ref) {
				t.Errorf("packaging/%s names %s, which the package does not hold", src, ref)
			}
		}
	}
}

// holds reports whether path is one of files or a directory above one.
func holds(files map[string]string, path string) bool {
	for f := range files {
		if f == path || strings.HasPrefix(f, path+"/") {
			return true
		}
	}
	return false
}

// checkBinary: the right machine, statically linked, stripped, and on
// this machine's architecture it names the package's version.
func checkBinary(t *testing.T, arch, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elfMachine[arch] {
		t.Errorf("binary is for %v, want %v", f.Machine, elfMachine[arch])
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("binary has a program interpreter: it is not statically linked")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: it is not stripped")
	}
	if arch == "amd64" {
		out := mustRun(t, time.Minute, path, "version")
		want := "edgeagent " + env.built.Source.Version + " ("
		if !strings.HasPrefix(out, want) || !strings.Contains(out, "linux/amd64)") {
			t.Errorf("edgeagent version = %q, want %q… linux/amd64)", out, want)
		}
	}
}

func checkCompletions(t *testing.T, root string) {
	t.Helper()
	for file, marker := range map[string]string{
		"usr/share/bash-completion/completions/edgeagent":    "__start_edgeagent",
		"usr/share/zsh/vendor-completions/_edgeagent":        "#compdef edgeagent",
		"usr/share/fish/vendor_completions.d/edgeagent.fish": "complete -c edgeagent",
	} {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), marker) {
			t.Errorf("/%s lacks %q: not a completion script for edgeagent", file, marker)
		}
	}
}

func checkChangelog(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("edgeagent (%s) unstable; urgency=medium\n", env.built.Source.Version)
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("changelog starts %q, want %q", firstLine(string(b)), want)
	}
}

// checkCopyright: every module linked into the binary has its paragraph.
func checkCopyright(t *testing.T, path, binary string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.Contains(text, "Files: go/src/*\n") {
		t.Error("copyright has no paragraph for the Go standard library")
	}
	for _, m := range bi.Deps {
		if !strings.Contains(text, "Files: vendor/"+m.Path+"/*\n") {
			t.Errorf("copyright has no paragraph for the linked module %s", m.Path)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestLintian holds every package to no lintian errors and no warnings.
// The one override (statically-linked-binary) must carry its reason and
// still match: lintian reports an override that matches nothing.
func TestLintian(t *testing.T) {
	need(t, "lintian", "lintian")
	checkOverridesHaveReasons(t)
	for _, p := range env.built.Packages {
		t.Run(p.Arch, func(t *testing.T) {
			t.Parallel() // lintian mostly waits; three at once save a minute
			// Not --show-overrides: with it lintian fails on overridden tags.
			args := []string{"--fail-on", "error,warning", "--display-info", "--tag-display-limit", "0", p.Path}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			start := time.Now()
			res, err := runCmd(ctx, "lintian", args...)
			if err != nil {
				t.Fatal(err)
			}
			env.measure("lintian "+p.Arch, fmt.Sprintf("%.0fs", time.Since(start).Seconds()))
			t.Logf("lintian %s (exit %d):\n%s", strings.Join(args[:len(args)-1], " "), res.code, res.out)
			for _, line := range strings.Split(res.out, "\n") {
				switch {
				case strings.HasPrefix(line, "E: "), strings.HasPrefix(line, "W: "):
					t.Errorf("lintian: %s", line)
				case strings.Contains(line, "unused-override"), strings.Contains(line, "mismatched-override"):
					t.Errorf("lintian: an override no longer matches: %s", line)
				}
			}
			if res.code != 0 {
				t.Errorf("lintian exit status %d", res.code)
			}
		})
	}
}

// checkOverridesHaveReasons: every override in packaging/lintian-overrides
// follows a comment that says why.
func checkOverridesHaveReasons(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.root, "packaging", "lintian-overrides"))
	if err != nil {
		t.Fatal(err)
	}
	commented, overrides := false, 0
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			commented = true
		case strings.TrimSpace(line) == "":
			commented = false
		default:
			overrides++
			if !commented {
				t.Errorf("lintian override %q has no comment giving its reason", line)
			}
			commented = false
		}
	}
	if overrides == 0 {
		t.Error("packaging/lintian-overrides holds no override; the static binary needs one")
	}
}

func TestReproducible(t *testing.T) {
	start := time.Now()
	again, err := build.Build(context.Background(), build.Options{Root: env.root, Out: filepath.Join(t.TempDir(), "again")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build took %.1fs", time.Since(start).Seconds())
	for i, p := range again.Packages {
		first := env.built.Packages[i]
		a, err := os.ReadFile(first.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds of the same tree differ: sha256 %x vs %x", p.Arch, sha256.Sum256(a), sha256.Sum256(b))
			continue
		}
		t.Logf("%s: identical, sha256 %x", p.Arch, sha256.Sum256(a))
	}
}
