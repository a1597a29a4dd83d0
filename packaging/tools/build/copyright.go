package build

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"
)

// A license this package can recognise in a module's license file.
type license struct {
	name string // the short name copyright-format 1.0 uses
	// common names the file under /usr/share/common-licenses that holds
	// the text on every Debian system; empty means the text is copied.
	common string
	match  func(text string) bool
}

// licenses are tried in order; the texts are compared with runs of white
// space folded to one space.
var licenses = []license{
	{name: "Apache-2.0", common: "Apache-2.0", match: func(t string) bool {
		return strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0")
	}},
	{name: "MPL-2.0", common: "MPL-2.0", match: func(t string) bool {
		return strings.Contains(t, "Mozilla Public License Version 2.0") || strings.Contains(t, "Mozilla Public License, version 2.0")
	}},
	{name: "EPL-2.0", match: func(t string) bool {
		return strings.Contains(t, "Eclipse Public License - v 2.0")
	}},
	{name: "Expat", match: func(t string) bool {
		return strings.Contains(t, "Permission is hereby granted, free of charge, to any person obtaining a copy")
	}},
	{name: "ISC", match: func(t string) bool {
		return strings.Contains(t, "Permission to use, copy, modify, and/or distribute this software for any purpose") ||
			strings.Contains(t, "Permission to use, copy, modify, and distribute this software for any purpose")
	}},
	// BSD-3-Clause covers the Eclipse Distribution License 1.0 too: it is
	// that text under another title.
	{name: "BSD-3-Clause", match: func(t string) bool {
		return strings.Contains(t, "Redistribution and use in source and binary forms") &&
			(strings.Contains(t, "Neither the name") || strings.Contains(t, "may be used to endorse or promote products"))
	}},
	{name: "BSD-2-Clause", match: func(t string) bool {
		return strings.Contains(t, "Redistribution and use in source and binary forms")
	}},
}

var (
	licenseFileRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying|edl-v10|epl-v20)([.-].*)?$`)
	holderRE      = regexp.MustCompile(`(?i)^[\s>#*]*copyright\s*(?:\(c\)|©)?\s*(?:\(c\)|©)?\s*([0-9]{4}.*)$`)
)

// Copyright returns the machine-readable copyright file for a binary
// (bi is its build information, debug/buildinfo.ReadFile): the
// hand-written head (edgeagent's own paragraphs), then a paragraph for the
// Go standard library and one for every module linked into the binary,
// each with the license found in the module's own license file. A module
// whose license is not recognised is an error, so the file never guesses.
func Copyright(head []byte, bi *debug.BuildInfo, goroot, modcache string) ([]byte, error) {
	var b strings.Builder
	b.Write(head)
	used := map[string]license{}

	std, err := licenseParagraph("go/src/*", "the Go standard library and runtime, "+bi.GoVersion, goroot, used)
	if err != nil {
		return nil, fmt.Errorf("the Go standard library: %w", err)
	}
	b.WriteString("\n" + std)

	deps := slices.Clone(bi.Deps)
	slices.SortFunc(deps, func(x, y *debug.Module) int { return strings.Compare(x.Path, y.Path) })
	for _, m := range deps {
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Version == "" || strings.HasPrefix(m.Path, ".") || strings.HasPrefix(m.Path, "/") {
			return nil, fmt.Errorf("module %s is replaced by a local directory: its license cannot be checked", m.Path)
		}
		dir := filepath.Join(modcache, escapeModule(m.Path)+"@"+escapeModule(m.Version))
		p, err := licenseParagraph("vendor/"+m.Path+"/*", m.Path+" "+m.Version, dir, used)
		if err != nil {
			return nil, fmt.Errorf("module %s %s: %w", m.Path, m.Version, err)
		}
		b.WriteString("\n" + p)
	}

	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\nLicense: %s\n On Debian systems, the complete text of this license is in\n /usr/share/common-licenses/%s.\n", name, used[name].common)
	}
	return []byte(b.String()), nil
}

// licenseParagraph writes the Files paragraph for the source tree in dir,
// recording in used the common licenses it refers to. One file may hold
// several licenses for different parts (go-yaml: Expat and Apache-2.0);
// Eclipse projects offer a choice between EPL-2.0 and the EDL
// (BSD-3-Clause), which the paragraph says with "or".
func licenseParagraph(files, comment, dir string, used map[string]license) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("finding the license file: %w", err)
	}
	var names, holders, texts, notices []string
	eclipseDual := false
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), "NOTICE") {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return "", err
			}
			notices = append(notices, string(raw))
			continue
		}
		if !licenseFileRE.MatchString(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		text := strings.ReplaceAll(string(raw), "\r\n", "\n")
		folded := strings.Join(strings.Fields(text), " ")
		var found []license
		for _, l := range licenses {
			if l.name == "BSD-2-Clause" && slices.ContainsFunc(found, func(f license) bool { return f.name == "BSD-3-Clause" }) {
				continue
			}
			if l.match(folded) {
				found = append(found, l)
			}
		}
		if len(found) == 0 {
			return "", fmt.Errorf("%s: license not recognised; teach packaging/tools/build/copyright.go after reading it", filepath.Join(dir, e.Name()))
		}
		eclipseDual = eclipseDual || strings.Contains(folded, "Eclipse Distribution License - v 1.0")
		fresh, copied := false, false
		for _, l := range found {
			if !slices.Contains(names, l.name) {
				names = append(names, l.name)
				fresh = true
			}
			if l.common != "" {
				used[l.name] = l
			} else {
				copied = true
			}
		}
		if !fresh {
			continue // the same license again (paho's LICENSE and epl-v20)
		}
		for _, line := range strings.Split(text, "\n") {
			if m := holderRE.FindStringSubmatch(line); m != nil && !slices.Contains(holders, strings.TrimSpace(m[1])) {
				holders = append(holders, strings.TrimSpace(m[1]))
			}
		}
		if copied {
			texts = append(texts, text)
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no license file in %s", dir)
	}
	if len(holders) == 0 {
		holders = []string{"the authors of " + comment + " (the license names no holder)"}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Files: %s\nCopyright: %s\n", files, strings.Join(holders, "\n "))
	join := " and "
	if eclipseDual && len(names) == 2 && slices.Contains(names, "EPL-2.0") && slices.Contains(names, "BSD-3-Clause") {
		join = " or "
	}
	fmt.Fprintf(&b, "License: %s\n", strings.Join(names, join))
	for i, text := range texts {
		if i > 0 {
			b.WriteString(" .\n")
		}
		b.WriteString(indentText(text))
	}
	fmt.Fprintf(&b, "Comment: %s\n", comment)
	// Apache-2.0 §4(d): a NOTICE file travels with the work.
	for _, notice := range notices {
		b.WriteString(" .\n The module's NOTICE file:\n .\n" + indentText(notice))
	}
	return b.String(), nil
}

// indentText formats a license text as a copyright-format continuation:
// every line indented by one space, empty lines as " .".
func indentText(text string) string {
	var b strings.Builder
	lines := strings.Split(strings.TrimRightFunc(text, unicode.IsSpace), "\n")
	// Skip leading blank lines.
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for _, line := range lines {
		line = strings.TrimRightFunc(strings.ReplaceAll(line, "\t", "    "), unicode.IsSpace)
		if line == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}

// escapeModule applies the module cache's case encoding: an upper-case
// letter becomes "!" and its lower-case form.
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
