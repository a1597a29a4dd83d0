package build

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// Fixture license files: each holds the phrases the recogniser looks for,
// not a whole license.
const (
	expatText    = "Copyright (c) 2019 Ada Example\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\".\n"
	apacheText   = "                                 Apache License\n                           Version 2.0, January 2004\n"
	bsd3Text     = "Copyright (c) 2009 The Go Authors. All rights reserved.\n\nRedistribution and use in source and binary forms, with or without\nmodification, are permitted. Neither the name of Google Inc. nor the names\nof its contributors may be used to endorse or promote products.\n"
	eplText      = "Eclipse Public License - v 2.0\n\n    THE ACCOMPANYING PROGRAM IS PROVIDED UNDER THE TERMS OF THIS ECLIPSE\n"
	edlText      = "Eclipse Distribution License - v 1.0\n\nCopyright (c) 2007, Eclipse Foundation, Inc. and its licensors.\n\nRedistribution and use in source and binary forms, with or without modification.\nNeither the name of the Eclipse Foundation, Inc. nor the names of its contributors may be used to endorse or promote products.\n"
	yamlLikeText = "This project is covered by two different licenses: MIT and Apache.\n\n#### MIT License ####\n\nCopyright (c) 2006-2010 Kirill Example\n\n" +
		"Permission is hereby granted, free of charge, to any person obtaining a copy\n\n### Apache License ###\n\nCopyright (c) 2011-2019 Canonical Example\n\nLicensed under the Apache License, Version 2.0 (the \"License\");\n"
)

func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func buildInfo(mods ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
	for _, m := range mods {
		path, version, _ := strings.Cut(m, "@")
		bi.Deps = append(bi.Deps, &debug.Module{Path: path, Version: version})
	}
	return bi
}

func TestCopyrightParagraphs(t *testing.T) {
	goroot := fixture(t, map[string]string{"LICENSE": bsd3Text})
	cache := fixture(t, map[string]string{
		"example.com/!ada/mit@v1.0.0/LICENSE":   expatText,
		"example.com/apache@v1.2.0/LICENSE.txt": apacheText,
		"example.com/apache@v1.2.0/NOTICE":      "Example Project\nCopyright 2018 Example, Inc.\n",
		"example.com/paho@v1.5.1/LICENSE":       eplText,
		"example.com/paho@v1.5.1/epl-v20":       eplText,
		"example.com/paho@v1.5.1/edl-v10":       edlText,
		"example.com/yaml@v3.0.6/LICENSE":       yamlLikeText,
		"example.com/yaml@v3.0.6/README.md":     "not a license",
	})
	head := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
	got, err := Copyright([]byte(head), buildInfo("example.com/yaml@v3.0.6", "example.com/Ada/mit@v1.0.0", "example.com/apache@v1.2.0", "example.com/paho@v1.5.1"), goroot, cache)
	if err != nil {
		t.Fatal(err)
	}
	text := string(got)
	paragraphs := strings.Split(text, "\n\n")
	find := func(files string) string {
		for _, p := range paragraphs {
			if strings.HasPrefix(p, "Files: "+files+"\n") {
				return p
			}
		}
		t.Fatalf("no paragraph for %s in:\n%s", files, text)
		return ""
	}
	if !strings.HasPrefix(text, head) {
		t.Error("the hand-written head does not come first")
	}

	std := find("go/src/*")
	wantLines(t, std, "Copyright: 2009 The Go Authors. All rights reserved.", "License: BSD-3-Clause", " Redistribution and use in source and binary forms, with or without", "Comment: the Go standard library and runtime, go1.26.8")

	mit := find("vendor/example.com/Ada/mit/*")
	wantLines(t, mit, "Copyright: 2019 Ada Example", "License: Expat", " .", " THE SOFTWARE IS PROVIDED \"AS IS\".")

	apache := find("vendor/example.com/apache/*")
	wantLines(t, apache, "Copyright: the authors of example.com/apache v1.2.0 (the license names no holder)", "License: Apache-2.0", " Copyright 2018 Example, Inc.")
	if strings.Contains(apache, "Version 2.0, January 2004") {
		t.Error("the Apache-2.0 text is copied instead of referring to common-licenses")
	}

	paho := find("vendor/example.com/paho/*")
	wantLines(t, paho, "License: EPL-2.0 or BSD-3-Clause", "Copyright: 2007, Eclipse Foundation, Inc. and its licensors.")
	if strings.Count(paho, "Eclipse Public License - v 2.0") != 1 {
		t.Error("the EPL text is not copied exactly once")
	}

	yaml := find("vendor/example.com/yaml/*")
	wantLines(t, yaml, "License: Apache-2.0 and Expat", "Copyright: 2006-2010 Kirill Example", " 2011-2019 Canonical Example")

	if strings.Count(text, "\nLicense: Apache-2.0\n On Debian systems") != 1 {
		t.Errorf("want one stand-alone Apache-2.0 paragraph pointing to common-licenses:\n%s", text)
	}
	if !strings.Contains(text, "/usr/share/common-licenses/Apache-2.0") {
		t.Error("no pointer to /usr/share/common-licenses/Apache-2.0")
	}
	// Sorted by module path, after the standard library.
	order := []string{"Files: go/src/*", "vendor/example.com/Ada/mit", "vendor/example.com/apache", "vendor/example.com/paho", "vendor/example.com/yaml"}
	last := -1
	for _, o := range order {
		i := strings.Index(text, o)
		if i < last {
			t.Errorf("%s is out of order", o)
		}
		last = i
	}
}

func wantLines(t *testing.T, paragraph string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(paragraph, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("paragraph lacks the line %q:\n%s", l, paragraph)
		}
	}
}

func TestCopyrightRefusesToGuess(t *testing.T) {
	goroot := fixture(t, map[string]string{"LICENSE": bsd3Text})
	for name, files := range map[string]map[string]string{
		"unknown license": {"example.com/odd@v1.0.0/LICENSE": "Do what you like, but be nice.\n"},
		"no license file": {"example.com/odd@v1.0.0/main.go": "package odd\n"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Copyright(nil, buildInfo("example.com/odd@v1.0.0"), goroot, fixture(t, files))
			if err == nil || !strings.Contains(err.Error(), "example.com/odd v1.0.0") {
				t.Errorf("err = %v, want one naming the module", err)
			}
		})
	}
	_, err := Copyright(nil, &debug.BuildInfo{Deps: []*debug.Module{{Path: "example.com/x", Version: "v1.0.0", Replace: &debug.Module{Path: "../x"}}}}, goroot, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "local directory") {
		t.Errorf("a module replaced by a directory: err = %v", err)
	}
}
