package board

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"gatemq/internal/fmt"
)

// TmpfsWarning says whether the folder dir (a path on the board, e.g.
// "/var/lib/gatemq") is on a file system that lives in RAM — tmpfs, ramfs,
// an initramfs rootfs, a zram or /dev/ram block device, or an overlay whose
// upper layer is one of those — by reading root's proc/mounts. It returns a
// one-line warning for the log, or "" when the folder is on persistent
// storage or the mount table cannot be read.
//
// Symbolic links in dir are followed below root, so OpenWrt's /var (a link
// to /tmp) is seen for the tmpfs it is. Parts of dir that do not exist yet
// are taken literally. A relative dir is taken relative to the current
// folder, which only makes sense when root is "/".
func TmpfsWarning(dir, root string) string {
	if root == "" {
		root = "/"
	}
	if !filepath.IsAbs(dir) {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	b, err := readSmall(underRoot(root, "/proc/mounts"))
	if err != nil {
		return ""
	}
	mounts := parseMounts(b)
	real := resolveUnder(root, filepath.ToSlash(dir))
	target := real
	for depth := 0; depth < 4; depth++ {
		m, ok := mountOf(mounts, target)
		if !ok {
			return ""
		}
		if why := ramReason(m); why != "" {
			where := dir
			if real != dir {
				where = fmt.Sprintf("%s (really %s)", dir, real)
			}
			return fmt.Sprintf("%s is on %s mounted at %s, %s: what is stored there is lost at reboot or power cut; choose a folder on flash or disk (persistence_location or -data)",
				where, m.fstype, m.dir, why)
		}
		upper := m.option("upperdir")
		if m.fstype != "overlay" || upper == "" {
			return ""
		}
		// An overlay keeps what is written in its upper folder: look at
		// the file system under that one instead.
		target = resolveUnder(root, upper)
	}
	return ""
}

// mount is one line of /proc/mounts.
type mount struct {
	_                            [0]func() // not comparable: no generated == function (flash size)
	device, dir, fstype, options string
}

// option returns the value of a key=value mount option, or "".
func (m mount) option(key string) string {
	for _, o := range strings.Split(m.options, ",") {
		if k, v, ok := strings.Cut(o, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// ramReason says why a mount keeps its files in RAM, or "" if it does not.
func ramReason(m mount) string {
	switch m.fstype {
	case "tmpfs", "ramfs":
		return "a RAM file system"
	case "rootfs":
		return "an initramfs in RAM"
	}
	if strings.HasPrefix(m.device, "/dev/zram") || strings.HasPrefix(m.device, "/dev/ram") {
		return "a RAM disk (" + m.device + ")"
	}
	return ""
}

// parseMounts parses /proc/mounts text; the kernel writes spaces, tabs,
// newlines and backslashes in fields as octal escapes (\040).
func parseMounts(b []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		out = append(out, mount{device: unescapeMount(f[0]), dir: path.Clean(unescapeMount(f[1])), fstype: f[2], options: f[3]})
	}
	return out
}

// unescapeMount decodes the \NNN octal escapes of a /proc/mounts field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// mountOf returns the mount that holds the board path p: the one with the
// longest mount point that contains p, and of those the last mounted.
func mountOf(mounts []mount, p string) (mount, bool) {
	best, found := mount{}, false
	for _, m := range mounts {
		if !within(p, m.dir) {
			continue
		}
		if !found || len(m.dir) >= len(best.dir) {
			best, found = m, true
		}
	}
	return best, found
}

// within reports whether the clean absolute path p is dir or below it.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// maxLinks bounds symbolic-link hops in resolveUnder, as the kernel's
// MAXSYMLINKS does.
const maxLinks = 40

// resolveUnder resolves the symbolic links in the absolute board path p as
// the board would, reading them below root (an absolute link target starts
// again at the board's "/", not the host's). Components that do not exist
// are kept as they are. The result is clean and absolute.
func resolveUnder(root, p string) string {
	rest := splitPath(p)
	var cur []string
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := append(cur[:len(cur):len(cur)], c)
		host := underRoot(root, "/"+strings.Join(next, "/"))
		fi, err := os.Lstat(host)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 || hops >= maxLinks {
			cur = next
			continue
		}
		target, err := os.Readlink(host)
		if err != nil {
			cur = next
			continue
		}
		hops++
		target = filepath.ToSlash(target)
		if strings.HasPrefix(target, "/") {
			cur = nil
		}
		rest = append(splitPath(target), rest...)
	}
	return "/" + strings.Join(cur, "/")
}

// splitPath returns the non-empty components of a slash-separated path.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
