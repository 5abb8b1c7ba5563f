package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// entry is one file of a tarball: its path inside, where its bytes come
// from, and its mode.
type entry struct {
	name, src string
	mode      int64
}

// tarball writes gatemq-VERSION-linux-TARGET.tar.gz: one folder of that
// name holding what install.sh needs next to it (the binary, the unit,
// the port check) and the documents. Written here rather than by nFPM,
// which makes packages, not plain archives; archive/tar and compress/gzip
// with fixed names, order, owners and times are reproducible as they are.
func (r *release) tarball(t target, bin string, g *generated) error {
	base := fmt.Sprintf("gatemq-%s-linux-%s", r.version, t.name)
	files := []entry{
		{"gatemq", bin, 0o755},
		{"install.sh", filepath.Join(r.root, "scripts/install.sh"), 0o755},
		{"systemd/gatemq.service", filepath.Join(r.root, "scripts/systemd/gatemq.service"), 0o644},
		{"common/gatemq-portcheck", filepath.Join(r.root, "scripts/common/gatemq-portcheck"), 0o755},
		{"gatemq.conf", g.conf, 0o644},
		{"LICENSE", filepath.Join(r.root, "LICENSE"), 0o644},
		{"NOTICE", filepath.Join(r.root, "NOTICE"), 0o644},
		{"THIRD_PARTY_LICENSES", g.thirdParty, 0o644},
		{"README.md", filepath.Join(r.root, "README.md"), 0o644},
	}
	slices.SortFunc(files, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: r.mtime,
			Uname: "root", Gname: "root", Format: tar.FormatUSTAR}
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for _, d := range parents(base + "/" + f.name) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(hdr(d+"/", tar.TypeDir, 0o755, 0)); err != nil {
					return err
				}
			}
		}
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr(base+"/"+f.name, tar.TypeReg, f.mode, int64(len(b)))); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.out, base+".tar.gz"), buf.Bytes(), 0o644)
}

// parents returns the folders above a slash-separated path, outermost
// first: "a/b/c" gives "a", "a/b".
func parents(p string) []string {
	var out []string
	for i := range len(p) {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}
