package board

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"gatemq/internal/fmt"
)

// Detect inspects the machine whose file system is at root ("/" on the
// board itself; a fake tree in tests) and returns its profile with the
// defaults it implies, for the board's default data folder. It is
// Detector{Root: root}.Detect().
func Detect(root string) Profile {
	return Detector{Root: root}.Detect()
}

// Detector says where to look and which data folder the store will use.
// The zero value inspects "/" for the board's default data folder.
type Detector struct {
	// Root is the folder the board's files are read below ("/" when
	// empty).
	Root string
	// DataDir is the data folder the configuration chose, as the board
	// sees it; empty means the board's default (Profile.DataDir).
	DataDir string
	// Free returns the free bytes (for an unprivileged user) of the file
	// system holding a path; nil means statfs. Tests pass a fixed answer.
	Free func(path string) (int64, error)
}

// Detect reads, below d.Root:
//
//   - etc/openwrt_release: present on OpenWrt (NameOpenWrt);
//   - proc/device-tree/model: "Raspberry Pi ..." on a Pi (NameRaspberryPi);
//   - tmp/sysinfo/model, sys/devices/virtual/dmi/id/product_name and
//     etc/os-release for Model and OS;
//   - proc/meminfo for MemTotal, and proc/mounts for TmpfsWarning;
//
// and the free space of the file system under the data folder plus the
// size of the files already in it (the store's own), from which the store
// cap follows (StoreMaxBytesFor): this is the one place the default cap is
// decided, so `gatemq -board`, the startup log and the enforced cap agree.
// Anything missing or unreadable leaves its field at its "unknown" value,
// sometimes with a Warning; Detect never fails.
func (d Detector) Detect() Profile {
	free := d.Free
	if free == nil {
		free = statfsFree
	}
	return detect(d.Root, d.DataDir, free)
}

// freeFunc returns the free bytes (for an unprivileged user) of the file
// system holding path.
type freeFunc func(path string) (int64, error)

// statfsFree is the real freeFunc.
func statfsFree(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// detect is Detector.Detect with the free-space probe decided.
func detect(root, dataDir string, free freeFunc) Profile {
	if root == "" {
		root = "/"
	}
	p := Profile{Root: root, DataFree: -1}
	dtModel := readFirstLine(underRoot(root, "/proc/device-tree/model"))
	if rel, err := readShellVars(underRoot(root, "/etc/openwrt_release")); err == nil {
		p.Name = NameOpenWrt
		p.OS = rel["DISTRIB_DESCRIPTION"]
		if p.OS == "" {
			p.OS = strings.TrimSpace("OpenWrt " + rel["DISTRIB_RELEASE"])
		}
		p.Target = strings.TrimSpace(rel["DISTRIB_TARGET"] + " " + rel["DISTRIB_ARCH"])
		p.Model = readFirstLine(underRoot(root, "/tmp/sysinfo/model"))
		if p.Model == "" {
			p.Model = dtModel
		}
	} else if strings.Contains(dtModel, "Raspberry Pi") {
		p.Name = NameRaspberryPi
		p.Model = dtModel
	} else {
		p.Name = NameGeneric
		p.Model = dtModel
		if p.Model == "" {
			p.Model = dmiModel(root)
		}
	}
	if p.OS == "" {
		if osr, err := readShellVars(underRoot(root, "/etc/os-release")); err == nil {
			p.OS = osr["PRETTY_NAME"]
		}
	}

	if total, err := memTotal(underRoot(root, "/proc/meminfo")); err == nil {
		p.MemTotal = total
	} else {
		p.Warnings = append(p.Warnings, fmt.Sprintf("total RAM unknown (%v): no memory limit suggested", err))
	}
	p.MemoryLimit, p.GCPercent = MemoryFor(p.MemTotal)
	p.MaxPacketSize = MaxPacketSizeFor(p.MemoryLimit)

	p.DataDir = dataDir
	if p.DataDir == "" {
		p.DataDir = dataDirFor(p.Name)
	}
	if n, err := free(existingParent(underRoot(root, p.DataDir))); err == nil {
		p.DataFree = n
		p.DataUsed = filesSize(underRoot(root, p.DataDir))
	} else {
		p.Warnings = append(p.Warnings, fmt.Sprintf("free space under %s unknown (%v): smallest store cap chosen", p.DataDir, err))
	}
	p.StoreMaxBytes = StoreMaxBytesFor(p.DataFree, p.DataUsed, storeCeilingFor(p.Name))
	if w := TmpfsWarning(p.DataDir, root); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	p.SerialGlobs = serialGlobsFor(p.Name)
	return p
}

// filesSize is the size of the regular files directly in dir (the store's
// segments), 0 when dir cannot be read.
func filesSize(dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// SerialDevices returns the devices below p.Root that match p.SerialGlobs,
// as paths on the board (without the Root prefix), in pattern order and
// without duplicates. It returns nil when none exist.
func (p Profile) SerialDevices() []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range p.SerialGlobs {
		matches, err := glob(underRoot(p.Root, g))
		if err != nil {
			continue
		}
		for _, m := range matches {
			dev := boardPath(p.Root, m)
			if !seen[dev] {
				seen[dev] = true
				out = append(out, dev)
			}
		}
	}
	return out
}

// underRoot returns the host path of the board path name below root.
func underRoot(root, name string) string {
	return filepath.Join(root, filepath.FromSlash(name))
}

// boardPath turns a host path below root back into the board's path.
func boardPath(root, host string) string {
	rel, err := filepath.Rel(root, host)
	if err != nil {
		return host
	}
	return "/" + filepath.ToSlash(rel)
}

// existingParent returns path or its nearest existing ancestor.
func existingParent(path string) string {
	for {
		if _, err := os.Stat(path); err == nil {
			return path
		}
		parent := filepath.Dir(path)
		if parent == path {
			return path
		}
		path = parent
	}
}

// readFirstLine returns the first line of a small file without trailing
// spaces or NULs (device-tree strings end in NUL); "" if it cannot be read.
func readFirstLine(path string) string {
	b, err := readSmall(path)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	return strings.TrimRight(string(line), "\x00 \t\r")
}

// maxInfoFile bounds how much of an information file is read.
const maxInfoFile = 64 << 10

// readSmall reads at most maxInfoFile bytes of a file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxInfoFile))
}

// readShellVars parses a file of KEY='value' / KEY="value" / KEY=value lines
// (openwrt_release, os-release). Comments and other lines are skipped.
func readShellVars(path string) (map[string]string, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return vars, nil
}

// memTotal returns MemTotal from a /proc/meminfo file, in bytes.
func memTotal(path string) (int64, error) {
	b, err := readSmall(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "MemTotal:" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("board: bad MemTotal line %q", sc.Text())
		}
		if len(f) >= 3 && strings.EqualFold(f[2], "kB") {
			n *= 1024
		}
		return n, nil
	}
	return 0, errors.New("board: no MemTotal line in " + path)
}

// dmiModel returns "vendor product" from the DMI tables of a PC or server;
// "" if there are none.
func dmiModel(root string) string {
	vendor := readFirstLine(underRoot(root, "/sys/devices/virtual/dmi/id/sys_vendor"))
	product := readFirstLine(underRoot(root, "/sys/devices/virtual/dmi/id/product_name"))
	return strings.TrimSpace(vendor + " " + product)
}
