package board

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTmpfsWarningFakeRoots(t *testing.T) {
	cases := []struct {
		root, dir string
		want      string // substring of the warning; "" = no warning
	}{
		// OpenWrt: /etc is the overlay, whose upper layer is on UBIFS flash.
		{"openwrt", "/etc/gatemq", ""},
		{"openwrt", "/overlay/gatemq", ""},
		{"openwrt", "/tmp/gatemq", "/tmp/gatemq is on tmpfs mounted at /tmp"},
		// /var is a link to /tmp on OpenWrt.
		{"openwrt", "/var/lib/gatemq", "/var/lib/gatemq (really /tmp/lib/gatemq) is on tmpfs mounted at /tmp"},
		{"openwrt", "/var/../etc/gatemq", ""},
		{"raspberrypi", "/var/lib/gatemq", ""},
		{"raspberrypi", "/var/log/gatemq", "is on tmpfs mounted at /var/log"},
		{"raspberrypi", "/run/gatemq", "is on tmpfs mounted at /run"},
		{"raspberrypi", "/dev/shm/gatemq", "is on tmpfs mounted at /dev/shm"},
		{"raspberrypi", "/mnt/usb stick/gatemq", ""},
		{"raspberrypi", "/var/logs/gatemq", ""},
		{"generic", "/var/cache/gatemq", "a RAM disk (/dev/zram0)"},
		{"generic", "/srv/gatemq", ""},
	}
	for _, tc := range cases {
		got := TmpfsWarning(tc.dir, filepath.Join("testdata", tc.root))
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: TmpfsWarning(%q) = %q, want %q", tc.root, tc.dir, got, tc.want)
		}
	}
}

func TestTmpfsWarningMountTables(t *testing.T) {
	cases := []struct {
		name, mounts, dir, want string
	}{
		{"overlay upper in RAM (OpenWrt first boot)",
			"tmpfs /tmp tmpfs rw 0 0\noverlayfs:/tmp/root / overlay rw,lowerdir=/,upperdir=/tmp/root/upper,workdir=/tmp/root/work 0 0\n",
			"/etc/gatemq", "is on tmpfs mounted at /tmp"},
		{"initramfs", "rootfs / rootfs rw 0 0\n", "/etc/gatemq", "an initramfs in RAM"},
		{"ramfs", "/dev/sda1 / ext4 rw 0 0\nnone /data ramfs rw 0 0\n", "/data/x", "a RAM file system"},
		{"ram block device", "/dev/ram0 /data ext2 rw 0 0\n", "/data", "a RAM disk (/dev/ram0)"},
		{"later mount hides earlier", "tmpfs /data tmpfs rw 0 0\n/dev/sdb1 /data ext4 rw 0 0\n", "/data", ""},
		{"prefix is not a parent", "/dev/sda1 / ext4 rw 0 0\ntmpfs /dat tmpfs rw 0 0\n", "/data", ""},
		{"overlay on disk", "/dev/sda1 / ext4 rw 0 0\noverlay /merged overlay rw,upperdir=/up,workdir=/wk 0 0\n", "/merged/x", ""},
		{"no mount holds it", "tmpfs /tmp tmpfs rw 0 0\n", "/etc", ""},
		{"garbage lines", "junk\n\n", "/etc", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "proc/mounts", tc.mounts)
			got := TmpfsWarning(tc.dir, root)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("TmpfsWarning(%q) = %q, want %q", tc.dir, got, tc.want)
			}
		})
	}
}

func TestTmpfsWarningNoMountTable(t *testing.T) {
	if got := TmpfsWarning("/tmp/x", t.TempDir()); got != "" {
		t.Errorf("without proc/mounts: %q, want no warning", got)
	}
}

func TestResolveUnder(t *testing.T) {
	root := t.TempDir()
	mkdir := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("tmp")
	mkdir("data/real")
	mkdir("a/b")
	link("tmp", "var")                 // relative
	link("/data/real", "abs")          // absolute: starts at the board's /, not the host's
	link("../../data/real", "a/b/up")  // relative with ..
	link("loop2", "loop1")             // a loop must end
	link("loop1", "loop2")             //
	link("/../../../etc", "escape")    // cannot climb out of root
	link("nowhere/deeper", "dangling") // target does not exist
	cases := map[string]string{
		"/var/lib/gatemq":   "/tmp/lib/gatemq",
		"/abs/x":            "/data/real/x",
		"/a/b/up/x":         "/data/real/x",
		"/a/./b/../b/up":    "/data/real",
		"/escape/gatemq":    "/etc/gatemq",
		"/dangling/x":       "/nowhere/deeper/x",
		"/":                 "/",
		"/not/there/at/all": "/not/there/at/all",
	}
	for in, want := range cases {
		if got := resolveUnder(root, in); got != want {
			t.Errorf("resolveUnder(%q) = %q, want %q", in, got, want)
		}
	}
	if got := resolveUnder(root, "/loop1/x"); !strings.HasPrefix(got, "/loop") {
		t.Errorf("resolveUnder(loop) = %q, want it to stop inside the loop", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	cases := map[string]string{
		`/mnt/usb\040stick`: "/mnt/usb stick",
		`a\011b\012c\134d`:  "a\tb\nc\\d",
		`/plain`:            "/plain",
		`bad\09x`:           `bad\09x`,
		`end\04`:            `end\04`,
	}
	for in, want := range cases {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
