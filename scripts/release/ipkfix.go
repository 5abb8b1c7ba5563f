package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
)

// installedSizeInBytes rewrites the Installed-Size of an .ipk made by nFPM
// in bytes. nFPM writes KiB (Debian's unit), but opkg reads bytes: it
// refuses a package whose (Installed-Size+1023)/1024 KiB does not fit on
// the overlay, so with KiB it would let an 8 MB binary start unpacking
// onto a router with 1 MB free. The field is rewritten in place; names,
// order, owners and times of both archives stay as nFPM made them.
func installedSizeInBytes(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	outer, err := readTarGz(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var ctl, data *tarFile
	for i := range outer {
		switch outer[i].hdr.Name {
		case "./control.tar.gz":
			ctl = &outer[i]
		case "./data.tar.gz":
			data = &outer[i]
		}
	}
	if ctl == nil || data == nil {
		return fmt.Errorf("%s: no control.tar.gz or data.tar.gz", path)
	}
	files, err := readTarGz(data.body)
	if err != nil {
		return err
	}
	var size int64
	for _, f := range files {
		if f.hdr.Typeflag == tar.TypeReg {
			size += f.hdr.Size
		}
	}
	ctlFiles, err := readTarGz(ctl.body)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^Installed-Size: [0-9]+$`)
	found := false
	for i := range ctlFiles {
		if ctlFiles[i].hdr.Name == "./control" && re.Match(ctlFiles[i].body) {
			ctlFiles[i].body = re.ReplaceAll(ctlFiles[i].body, []byte("Installed-Size: "+strconv.FormatInt(size, 10)))
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: no Installed-Size in control", path)
	}
	if ctl.body, err = writeTarGz(ctlFiles); err != nil {
		return err
	}
	out, err := writeTarGz(outer)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

type tarFile struct {
	hdr  *tar.Header
	body []byte
}

func readTarGz(b []byte) ([]tarFile, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var out []tarFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, tarFile{h, body})
	}
}

// writeTarGz writes files as nFPM's ipk packager does: GNU tar in gzip
// with default compression and an empty gzip header.
func writeTarGz(files []tarFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		f.hdr.Size = int64(len(f.body))
		if err := tw.WriteHeader(f.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
