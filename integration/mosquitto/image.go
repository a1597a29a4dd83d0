package mosquitto

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

const (
	// ImageEnv names an image to use instead of the Debian-built one, for
	// example eclipse-mosquitto:2 on a machine that has it. It is used only
	// when the image is present locally: the harness never pulls.
	ImageEnv = "EDGEAGENT_MOSQUITTO_IMAGE"

	// LocalRepository is the repository of the image built from Debian's
	// packages; its tag is derived from the image's content.
	LocalRepository = "edgeagent-mosquitto"

	// uid and gid of the mosquitto user, the same as in the official image,
	// so the data directory's owner is right in both.
	mosquittoUID = 1883

	// Paths shared by both images, so one code path serves both.
	brokerBinary = "/usr/sbin/mosquitto"
	pubBinary    = "/usr/bin/mosquitto_pub"
	subBinary    = "/usr/bin/mosquitto_sub"
	ctrlBinary   = "/usr/bin/mosquitto_ctrl"
	configPath   = "/mosquitto/config/mosquitto.conf"
	configDir    = "/mosquitto/config"
	dataDir      = "/mosquitto/data"
	dynsecPlugin = "/usr/lib/mosquitto_dynamic_security.so"

	// recipe changes whenever the way the image is assembled changes, so a
	// new recipe gets a new tag even from the same Debian files.
	recipe = "edgeagent-mosquitto recipe 2"
)

// debianPackages are the packages the local image is made from: the broker
// (with mosquitto_passwd and the dynamic-security plugin) and the clients
// (mosquitto_pub, mosquitto_sub, mosquitto_rr, mosquitto_ctrl).
func debianPackages() []string { return []string{"mosquitto", "mosquitto-clients"} }

// imageCmd is the command every broker container runs, in both images.
func imageCmd() []string { return []string{brokerBinary, "-c", configPath} }

// imageChanges are the Dockerfile-style instructions applied on import.
func imageChanges(debVersion string) []string {
	return []string{
		`CMD ["` + brokerBinary + `", "-c", "` + configPath + `"]`,
		"ENV PATH=/usr/sbin:/usr/bin",
		"EXPOSE 1883",
		"LABEL io.edgeagent.mosquitto.debian=" + debVersion,
	}
}

// ResolveImage returns the image the brokers run: the one named by
// $EDGEAGENT_MOSQUITTO_IMAGE when it is present locally, otherwise the
// Debian-built image, built (once per machine: its tag is derived from its
// content) when it is missing. Building installs the Debian packages with
// apt-get when they are missing, and says so on logw.
func ResolveImage(ctx context.Context, cli client.APIClient, logw io.Writer) (string, error) {
	if name := os.Getenv(ImageEnv); name != "" {
		ok, err := imagePresent(ctx, cli, name)
		if err != nil {
			return "", err
		}
		if ok {
			return name, nil
		}
		fmt.Fprintf(logw, "mosquitto: %s=%s is not present locally (the harness never pulls); using the image built from Debian packages\n", ImageEnv, name)
	}
	return EnsureDebianImage(ctx, cli, logw)
}

// EnsureDebianImage builds the image from Debian's packages unless an
// image with the same content is already present, and returns its name.
// Concurrent callers on one machine (test binaries of several packages)
// take a file lock, so the image is built once.
func EnsureDebianImage(ctx context.Context, cli client.APIClient, logw io.Writer) (string, error) {
	unlock, err := lockFile(filepath.Join(os.TempDir(), "edgeagent-mosquitto-image.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	if missing := missingPackages(); len(missing) > 0 {
		if err := installPackages(ctx, missing, logw); err != nil {
			return "", err
		}
	}
	root, debVersion, err := collectRootFS()
	if err != nil {
		return "", err
	}
	changes := imageChanges(debVersion)
	name := LocalRepository + ":" + contentTag(debVersion, root, changes)
	ok, err := imagePresent(ctx, cli, name)
	if err != nil || ok {
		return name, err
	}
	start := time.Now()
	if err := importImage(ctx, cli, name, root, changes); err != nil {
		return "", fmt.Errorf("mosquitto: import image %s: %w", name, err)
	}
	fmt.Fprintf(logw, "mosquitto: built image %s from Debian mosquitto %s in %v\n", name, debVersion, time.Since(start).Round(time.Millisecond))
	return name, nil
}

// imagePresent reports whether the engine has the image, without pulling.
func imagePresent(ctx context.Context, cli client.APIClient, name string) (bool, error) {
	_, err := cli.ImageInspect(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("mosquitto: inspect image %s: %w", name, err)
	}
}

// lockFile takes an exclusive flock on p, creating it when needed.
func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("mosquitto: image build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("mosquitto: image build lock %s: %w", p, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// missingPackages lists the Debian packages the image needs that dpkg does
// not report as installed (all of them where there is no dpkg).
func missingPackages() []string {
	var missing []string
	for _, p := range debianPackages() {
		out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", p).Output()
		if err != nil || !strings.HasPrefix(string(out), "ii") {
			missing = append(missing, p)
		}
	}
	return missing
}

// installPackages installs pkgs with apt-get (through sudo -n when not
// root), refreshing the package lists once if the first attempt fails.
func installPackages(ctx context.Context, pkgs []string, logw io.Writer) error {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("mosquitto: Debian packages %s are missing and there is no apt-get: install them, or set %s to a local Mosquitto 2 image",
			strings.Join(pkgs, ", "), ImageEnv)
	}
	fmt.Fprintf(logw, "mosquitto: building the test image needs the Debian packages %s; installing them with apt-get (once per machine)\n",
		strings.Join(pkgs, " "))
	run := func(args ...string) ([]byte, error) {
		if os.Geteuid() != 0 {
			args = append([]string{"sudo", "-n"}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	install := append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)
	out, err := run(install...)
	if err != nil {
		if upd, uerr := run("apt-get", "update", "-q"); uerr != nil {
			return fmt.Errorf("mosquitto: apt-get update: %w\n%s", uerr, tail(upd, 20))
		}
		out, err = run(install...)
	}
	if err != nil {
		return fmt.Errorf("mosquitto: apt-get install %s: %w\n%s", strings.Join(pkgs, " "), err, tail(out, 20))
	}
	return nil
}

// tail returns the last n lines of out, for error messages.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rootEntry is one entry of the image's root file system.
type rootEntry struct {
	name string // absolute path in the image
	mode int64
	uid  int
	dir  bool
	data []byte
}

// collectRootFS gathers the image's files from the host's Debian packages:
// the binaries, every library ldd names for them (links resolved, stored at
// the path ldd prints), the dynamic-security plugin at the official image's
// path, a mosquitto user and group, a default config and the data
// directory owned by the mosquitto user. It returns the Debian version of
// the mosquitto package as well.
func collectRootFS() ([]rootEntry, string, error) {
	ver, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "mosquitto").Output()
	if err != nil {
		return nil, "", fmt.Errorf("mosquitto: dpkg-query mosquitto: %w", err)
	}
	debVersion := strings.TrimSpace(string(ver))

	plugin, err := pluginPath()
	if err != nil {
		return nil, "", err
	}
	bins := []string{brokerBinary, pubBinary, subBinary, ctrlBinary, "/usr/bin/mosquitto_rr", "/usr/bin/mosquitto_passwd"}
	files := map[string]string{} // image path -> host path
	for _, b := range bins {
		files[b] = b
	}
	files[dynsecPlugin] = plugin
	for _, obj := range append(bins, plugin) {
		libs, err := lddPaths(obj)
		if err != nil {
			return nil, "", err
		}
		for _, l := range libs {
			files[l] = l
		}
	}
	// glibc loads libgcc_s at run time (ldd cannot see it) when a thread
	// exits: the broker's bridge resolves its remote host on one, and
	// without the library the broker aborts ("libgcc_s.so.1 must be
	// installed for pthread_exit to work"). It sits beside libc.
	var libc string
	for l := range files {
		if path.Base(l) == "libc.so.6" {
			libc = l
		}
	}
	if libc == "" {
		return nil, "", errors.New("mosquitto: ldd named no libc.so.6")
	}
	gcc := path.Join(path.Dir(libc), "libgcc_s.so.1")
	if _, err := os.Stat(gcc); err != nil {
		return nil, "", fmt.Errorf("mosquitto: the broker's bridge needs %s: %w", gcc, err)
	}
	files[gcc] = gcc

	var entries []rootEntry
	dirs := map[string]bool{}
	addDir := func(d string, mode int64, uid int) {
		for p := d; p != "/" && !dirs[p]; p = path.Dir(p) {
			dirs[p] = true
			m, u := int64(0o755), 0
			if p == d {
				m, u = mode, uid
			}
			entries = append(entries, rootEntry{name: p, mode: m, uid: u, dir: true})
		}
	}
	addFile := func(name string, mode int64, data []byte) {
		addDir(path.Dir(name), 0o755, 0)
		entries = append(entries, rootEntry{name: name, mode: mode, data: data})
	}
	for name, host := range files {
		data, err := os.ReadFile(host)
		if err != nil {
			return nil, "", fmt.Errorf("mosquitto: read %s for the image: %w", host, err)
		}
		addFile(name, 0o755, data)
	}
	addFile("/etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/usr/sbin/nologin\nmosquitto:x:%d:%d:mosquitto:/var/empty:/usr/sbin/nologin\n", mosquittoUID, mosquittoUID))
	addFile("/etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nmosquitto:x:%d:\n", mosquittoUID))
	addFile("/etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nhosts: files dns\n"))
	addFile(configPath, 0o644, []byte("# Default of the edgeagent test image; the harness writes its own.\nlistener 1883 0.0.0.0\nallow_anonymous true\nlog_dest stderr\n"))
	addDir(dataDir, 0o755, mosquittoUID)
	addDir("/mosquitto/log", 0o755, mosquittoUID)
	addDir("/tmp", 0o1777, 0)
	// Sorted so the tar (and the tag) depend on content only.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, debVersion, nil
}

// pluginPath finds the dynamic-security plugin among the mosquitto
// package's files (its directory depends on the architecture).
func pluginPath() (string, error) {
	out, err := exec.Command("dpkg", "-L", "mosquitto").Output()
	if err != nil {
		return "", fmt.Errorf("mosquitto: dpkg -L mosquitto: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if path.Base(l) == "mosquitto_dynamic_security.so" {
			return l, nil
		}
	}
	return "", errors.New("mosquitto: the mosquitto package has no mosquitto_dynamic_security.so")
}

// lddLine matches the library paths in ldd's output: "name => /path (addr)"
// and "/path (addr)" for the loader.
var lddLine = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$`)

// notInTag matches what a Docker tag cannot hold.
var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// lddPaths lists the shared objects obj loads, as ldd prints them.
func lddPaths(obj string) ([]string, error) {
	out, err := exec.Command("ldd", obj).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("mosquitto: ldd %s: %w\n%s", obj, err, out)
	}
	libs, err := parseLdd(out)
	if err != nil {
		return nil, fmt.Errorf("mosquitto: ldd %s: %w", obj, err)
	}
	return libs, nil
}

// parseLdd extracts the library paths from ldd's output.
func parseLdd(out []byte) ([]string, error) {
	if bytes.Contains(out, []byte("not found")) {
		return nil, fmt.Errorf("a library is missing:\n%s", out)
	}
	var libs []string
	for _, m := range lddLine.FindAllSubmatch(out, -1) {
		libs = append(libs, string(m[1]))
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("no libraries named:\n%s", out)
	}
	return libs, nil
}

// modTime is every entry's time: fixed, so the layer depends on content
// only.
func (rootEntry) modTime() time.Time { return time.Unix(0, 0) }

// contentTag derives the image tag from the Debian version (for people)
// and a hash of the recipe, the import changes and every entry.
func contentTag(debVersion string, root []rootEntry, changes []string) string {
	h := sha256.New()
	fmt.Fprintln(h, recipe)
	for _, c := range changes {
		fmt.Fprintln(h, c)
	}
	for _, e := range root {
		sum := sha256.Sum256(e.data)
		fmt.Fprintf(h, "%s %o %d %t %x\n", e.name, e.mode, e.uid, e.dir, sum)
	}
	v := notInTag.ReplaceAllString(debVersion, "-")
	return v + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// writeRootTar writes the entries as a tar stream with fixed times, so the
// same content makes the same layer.
func writeRootTar(w io.Writer, root []rootEntry) error {
	tw := tar.NewWriter(w)
	for _, e := range root {
		hdr := &tar.Header{
			Name: strings.TrimPrefix(e.name, "/"), Mode: e.mode, Uid: e.uid, Gid: e.uid,
			ModTime: e.modTime(), Format: tar.FormatPAX,
		}
		if e.dir {
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// importImage streams the root file system to the engine's import
// endpoint (what `docker import` does) and checks the engine's reply.
func importImage(ctx context.Context, cli client.APIClient, name string, root []rootEntry, changes []string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRootTar(pw, root)) }()
	defer pr.Close()
	resp, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, name,
		client.ImageImportOptions{Changes: changes, Message: "built by the edgeagent integration harness from Debian packages"})
	if err != nil {
		return err
	}
	defer resp.Close()
	dec := json.NewDecoder(resp)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("reading the engine's reply: %w", err)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
	ok, err := imagePresent(ctx, cli, name)
	if err == nil && !ok {
		err = errors.New("the engine accepted the import but has no such image")
	}
	return err
}
