package main

import (
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// generated holds the paths of the files made for the packages.
type generated struct {
	thirdParty string // THIRD_PARTY_LICENSES
	conf       string // sample /etc/gatemq/gatemq.conf (install.sh's)
	unit       string // systemd unit with ExecStart=/usr/bin/gatemq
	copyright  string // Debian's /usr/share/doc/gatemq/copyright
	changelog  string // Debian's /usr/share/doc/gatemq/changelog.gz
	licenses   string // the SPDX ids of gatemq and what it bundles
}

// module is one Go module linked into the binary.
type module struct{ path, version, dir, spdx string }

func (r *release) generate(bins map[string]string) (*generated, error) {
	dir := filepath.Join(r.tmp, "gen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g := &generated{
		thirdParty: filepath.Join(dir, "THIRD_PARTY_LICENSES"),
		unit:       filepath.Join(dir, "gatemq.service"),
		copyright:  filepath.Join(dir, "copyright"),
		changelog:  filepath.Join(dir, "changelog.gz"),
	}

	mods, err := r.modules(bins)
	if err != nil {
		return nil, err
	}
	third, spdx, err := r.thirdParty(mods)
	if err != nil {
		return nil, err
	}
	g.licenses = strings.Join(spdx, " ")
	if err := os.WriteFile(g.thirdParty, third, 0o644); err != nil {
		return nil, err
	}

	// The sample config is the one install.sh writes.
	stage := filepath.Join(dir, "install")
	var anyBin string
	for _, b := range bins {
		anyBin = b // install.sh only copies it
	}
	cmd := exec.Command("sh", filepath.Join(r.root, "scripts/install.sh"), anyBin)
	cmd.Env = append(os.Environ(), "DESTDIR="+stage, "SYSTEMD=no", "PREFIX=/usr", "CONFDIR=/etc/gatemq", "STATEDIR=/var/lib/gatemq")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("install.sh for the sample config: %v\n%s", err, out)
	}
	g.conf = filepath.Join(stage, "etc/gatemq/gatemq.conf")

	unit, err := os.ReadFile(filepath.Join(r.root, "scripts/systemd/gatemq.service"))
	if err != nil {
		return nil, err
	}
	unit = bytes.Replace(unit, []byte("\nExecStart=/usr/local/bin/gatemq "), []byte("\nExecStart=/usr/bin/gatemq "), 1)
	if err := os.WriteFile(g.unit, unit, 0o644); err != nil {
		return nil, err
	}

	notice, err := os.ReadFile(filepath.Join(r.root, "NOTICE"))
	if err != nil {
		return nil, err
	}
	var c bytes.Buffer
	fmt.Fprintf(&c, "gatemq %s\n\nCopyright 2026 The gatemq authors\nLicense: Apache-2.0\n\n", r.version)
	c.WriteString("On Debian systems the full text of the Apache License 2.0 is in\n/usr/share/common-licenses/Apache-2.0. gatemq's NOTICE file:\n\n")
	c.Write(notice)
	c.WriteString("\n")
	c.Write(third)
	if err := os.WriteFile(g.copyright, c.Bytes(), 0o644); err != nil {
		return nil, err
	}

	var log bytes.Buffer
	fmt.Fprintf(&log, "gatemq (%s) stable; urgency=medium\n\n  * Release %s; README.md says what it does.\n\n -- %s  %s\n",
		r.version, r.version, maintainer, r.mtime.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name, no time: reproducible
	zw.Write(log.Bytes())
	zw.Close()
	return g, os.WriteFile(g.changelog, gz.Bytes(), 0o644)
}

// modules reads, from the built binaries, the modules linked into them
// (go version -m): only these are distributed, test-only ones are not. A
// module replaced by a folder of this repository (a patched copy under
// third_party/) keeps its own path and version and is read from there.
func (r *release) modules(bins map[string]string) ([]module, error) {
	seen := map[string]module{}
	for _, bin := range bins {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		for _, d := range info.Deps {
			if d.Replace != nil && (strings.HasPrefix(d.Replace.Path, "./") || strings.HasPrefix(d.Replace.Path, "../")) {
				seen[d.Path+"@"+d.Version] = module{path: d.Path, version: d.Version, dir: filepath.Join(r.root, d.Replace.Path)}
				continue
			}
			if d.Replace != nil {
				d = d.Replace
			}
			seen[d.Path+"@"+d.Version] = module{path: d.Path, version: d.Version}
		}
	}
	var mods []module
	for _, m := range seen {
		if m.dir != "" {
			mods = append(mods, m)
			continue
		}
		cmd := exec.Command(r.goCmd, "mod", "download", "-json", m.path+"@"+m.version)
		cmd.Dir = r.root
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go mod download %s@%s: %v", m.path, m.version, err)
		}
		var dl struct{ Dir string }
		if err := json.Unmarshal(out, &dl); err != nil || dl.Dir == "" {
			return nil, fmt.Errorf("go mod download %s@%s: no folder (%v)", m.path, m.version, err)
		}
		m.dir = dl.Dir
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b module) int { return strings.Compare(a.path, b.path) })
	return mods, nil
}

// thirdParty builds THIRD_PARTY_LICENSES: the Go distribution's license
// (the standard library and runtime are linked in), then each module's
// license files, each under a heading naming the module and the license
// recognised in it. It also returns the SPDX ids, gatemq's first.
func (r *release) thirdParty(mods []module) ([]byte, []string, error) {
	goroot, err := exec.Command(r.goCmd, "env", "GOROOT").Output()
	if err != nil {
		return nil, nil, err
	}
	gover, err := exec.Command(r.goCmd, "env", "GOVERSION").Output()
	if err != nil {
		return nil, nil, err
	}
	all := append([]module{{path: "Go standard library and runtime", version: strings.TrimSpace(string(gover)), dir: strings.TrimSpace(string(goroot))}}, mods...)
	var b bytes.Buffer
	b.WriteString("Third-party software in the gatemq binary\n=========================================\n\n")
	b.WriteString("gatemq (Apache-2.0, see LICENSE and NOTICE) is statically linked with the\nsoftware below. Each part's license text follows, as found in its source.\n")
	spdx := []string{"Apache-2.0"}
	for _, m := range all {
		ents, err := os.ReadDir(m.dir)
		if err != nil {
			return nil, nil, err
		}
		var texts [][]byte
		for _, e := range ents {
			n := strings.ToUpper(e.Name())
			if e.Type().IsRegular() && (strings.HasPrefix(n, "LICENSE") || strings.HasPrefix(n, "LICENCE") || strings.HasPrefix(n, "COPYING") || n == "NOTICE" || n == "PATENTS") {
				t, err := os.ReadFile(filepath.Join(m.dir, e.Name()))
				if err != nil {
					return nil, nil, err
				}
				texts = append(texts, t)
			}
		}
		if len(texts) == 0 {
			return nil, nil, fmt.Errorf("%s %s: no license file in %s", m.path, m.version, m.dir)
		}
		m.spdx = identify(texts[0])
		if !slices.Contains(spdx, m.spdx) {
			spdx = append(spdx, m.spdx)
		}
		fmt.Fprintf(&b, "\n\n%s\n%s %s (%s)\n%s\n\n", strings.Repeat("-", 72), m.path, m.version, m.spdx, strings.Repeat("-", 72))
		for _, t := range texts {
			b.Write(bytes.TrimSpace(t))
			b.WriteString("\n\n")
		}
	}
	return b.Bytes(), spdx, nil
}

// identify names the license of a license text by its telling sentences.
func identify(text []byte) string {
	t := string(text)
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0"
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "MIT"
	case strings.Contains(t, "Redistribution and use in source and binary forms") && strings.Contains(t, "Neither the name"):
		return "BSD-3-Clause"
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		return "BSD-2-Clause"
	}
	return "LicenseRef-see-text"
}
