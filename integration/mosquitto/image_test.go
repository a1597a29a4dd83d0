package mosquitto

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007ffd3b7e6000)
	libmosquitto.so.1 => /lib/x86_64-linux-gnu/libmosquitto.so.1 (0x00007f2a52c8f000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a52aad000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f2a52ccd000)
`)
	libs, err := parseLdd(out)
	want := []string{"/lib/x86_64-linux-gnu/libmosquitto.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || !slices.Equal(libs, want) {
		t.Errorf("parseLdd = %v, %v; want %v", libs, err, want)
	}
	if _, err := parseLdd([]byte("\tlibcjson.so.1 => not found\n")); err == nil {
		t.Error("a missing library passed")
	}
	if _, err := parseLdd([]byte("\tstatically linked\n")); err == nil {
		t.Error("output without libraries passed")
	}
}

func TestContentTag(t *testing.T) {
	root := []rootEntry{{name: "/etc", mode: 0o755, dir: true}, {name: "/etc/passwd", mode: 0o644, data: []byte("root")}}
	changes := imageChanges("2.0.11-1.2+deb12u2")
	tag := contentTag("2.0.11-1.2+deb12u2", root, changes)
	if !strings.HasPrefix(tag, "2.0.11-1.2-deb12u2-") || len(tag) != len("2.0.11-1.2-deb12u2-")+12 {
		t.Errorf("tag %q: want the sanitised version and 12 hex digits", tag)
	}
	if again := contentTag("2.0.11-1.2+deb12u2", root, changes); again != tag {
		t.Errorf("same content, tags %s and %s", tag, again)
	}
	other := slices.Clone(root)
	other[1].data = []byte("root2")
	if contentTag("2.0.11-1.2+deb12u2", other, changes) == tag {
		t.Error("different file content, same tag")
	}
	other = slices.Clone(root)
	other[1].mode = 0o600
	if contentTag("2.0.11-1.2+deb12u2", other, changes) == tag {
		t.Error("different mode, same tag")
	}
	if contentTag("2.0.11-1.2+deb12u2", root, changes[1:]) == tag {
		t.Error("different import changes, same tag")
	}
}

func TestWriteRootTar(t *testing.T) {
	root := []rootEntry{
		{name: "/mosquitto", mode: 0o755, dir: true},
		{name: "/mosquitto/data", mode: 0o755, uid: mosquittoUID, dir: true},
		{name: "/usr/sbin/mosquitto", mode: 0o755, data: []byte("ELF")},
	}
	var buf bytes.Buffer
	if err := writeRootTar(&buf, root); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got = append(got, strings.Join([]string{h.Name, string(h.Typeflag), string(data)}, "|"))
		if h.Name == "mosquitto/data/" && (h.Uid != mosquittoUID || h.Gid != mosquittoUID) {
			t.Errorf("data dir owned by %d:%d, want the mosquitto user", h.Uid, h.Gid)
		}
		if !h.ModTime.Equal(root[0].modTime()) {
			t.Errorf("%s has time %v: the layer would depend on when it was built", h.Name, h.ModTime)
		}
	}
	want := []string{"mosquitto/|5|", "mosquitto/data/|5|", "usr/sbin/mosquitto|0|ELF"}
	if !slices.Equal(got, want) {
		t.Errorf("tar entries %q, want %q", got, want)
	}
}
