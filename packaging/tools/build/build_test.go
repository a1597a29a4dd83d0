package build

import (
	"context"
	"strings"
	"testing"
)

func TestBuildNamesAMissingShippedFile(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"packaging/VERSION": "0.1.0\n"}, "packaging/config.yaml is missing: it is the default configuration installed as /etc/edgeagent/config.yaml"},
		{map[string]string{"packaging/VERSION": "0.1.0\n", "packaging/config.yaml": "{}\n"}, "packaging/examples/config.yaml is missing: it is the full example"},
	} {
		root := fixture(t, tc.files)
		_, err := Build(context.Background(), Options{Root: root, Out: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to say %q", err, tc.want)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	root := fixture(t, map[string]string{"packaging/VERSION": "0.1.0\n", "packaging/config.yaml": "{}\n", "packaging/examples/config.yaml": "{}\n"})
	for opts, want := range map[*Options]string{
		{Version: "v0.1.0"}:        `version "v0.1.0": not a Debian version`,
		{Version: "0.1.0-1"}:       `version "0.1.0-1": not a Debian version`,
		{Arches: []string{"i386"}}: `architecture "i386": not one of amd64, arm64, armhf`,
	} {
		opts.Root, opts.Out = root, t.TempDir()
		_, err := Build(context.Background(), *opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q", *opts, err, want)
		}
	}
}
