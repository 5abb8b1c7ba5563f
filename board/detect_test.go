package board

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeFree returns a freeFunc that records the path it was asked about and
// answers n (or err).
func fakeFree(n int64, err error, asked *string) freeFunc {
	return func(path string) (int64, error) {
		*asked = path
		return n, err
	}
}

func TestDetectFakeRoots(t *testing.T) {
	cases := []struct {
		root       string
		name       string
		model      string
		os         string
		target     string
		dataDir    string
		askedFree  string // folder (below root) whose free space is asked
		memTotal   int64
		memLimit   int64
		gcPercent  int
		storeFree  int64
		storeMax   int64
		serial     []string
		firstGlob  string
		noWarnings bool
	}{
		{
			root: "openwrt", name: NameOpenWrt,
			model: "Xiaomi Mi Router 4A Gigabit Edition", os: "OpenWrt 23.05.3 r23809-234f1a2efa",
			target: "ramips/mt7621 mipsel_24kc", dataDir: "/etc/gatemq", askedFree: "etc",
			memTotal: 124208 << 10, memLimit: 34 << 20, gcPercent: 50,
			storeFree: 9 << 20, storeMax: (9 << 20) / 2,
			serial: []string{"/dev/ttyUSB0"}, firstGlob: "/dev/ttyUSB*", noWarnings: true,
		},
		{
			root: "raspberrypi", name: NameRaspberryPi,
			model: "Raspberry Pi 4 Model B Rev 1.4", os: "Debian GNU/Linux 12 (bookworm)",
			dataDir: "/var/lib/gatemq", askedFree: "var/lib",
			memTotal: 3884328 << 10, memLimit: 952 << 20, gcPercent: 100,
			storeFree: 20 << 30, storeMax: MaxStoreMaxBytes,
			serial: []string{
				"/dev/serial/by-id/usb-Arduino__www.arduino.cc__0043_7503-if00",
				"/dev/serial0", "/dev/ttyAMA0", "/dev/ttyACM0",
			},
			firstGlob: "/dev/serial/by-id/*", noWarnings: true,
		},
		{
			root: "generic", name: NameGeneric,
			model: "PC Engines APU2", os: "Debian GNU/Linux 12 (bookworm)",
			dataDir: "/var/lib/gatemq", askedFree: "",
			memTotal: 8040428 << 10, memLimit: MaxMemoryLimit, gcPercent: 100,
			storeFree: 100 << 10, storeMax: MinStoreMaxBytes,
			firstGlob: "/dev/serial/by-id/*", noWarnings: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.root, func(t *testing.T) {
			root := filepath.Join("testdata", tc.root)
			var asked string
			p := detect(root, "", fakeFree(tc.storeFree, nil, &asked))
			check := func(field string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("Name", p.Name, tc.name)
			check("Model", p.Model, tc.model)
			check("OS", p.OS, tc.os)
			check("Target", p.Target, tc.target)
			check("Root", p.Root, root)
			check("DataDir", p.DataDir, tc.dataDir)
			check("free space asked of", asked, filepath.Join(root, tc.askedFree))
			check("DataFree", p.DataFree, tc.storeFree)
			check("StoreMaxBytes", p.StoreMaxBytes, tc.storeMax)
			check("MemTotal", p.MemTotal, tc.memTotal)
			check("MemoryLimit", p.MemoryLimit, tc.memLimit)
			check("GCPercent", p.GCPercent, tc.gcPercent)
			if len(p.SerialGlobs) == 0 || p.SerialGlobs[0] != tc.firstGlob {
				t.Errorf("SerialGlobs = %q, want it to start with %q", p.SerialGlobs, tc.firstGlob)
			}
			if got := p.SerialDevices(); !slices.Equal(got, tc.serial) {
				t.Errorf("SerialDevices() = %q, want %q", got, tc.serial)
			}
			if tc.noWarnings && len(p.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none", p.Warnings)
			}
		})
	}
}

// TestDetectRealStatfs runs the exported Detect, whose free space comes from
// statfs of the folder holding the fake root's data folder.
func TestDetectRealStatfs(t *testing.T) {
	p := Detect(filepath.Join("testdata", "raspberrypi"))
	if p.Name != NameRaspberryPi {
		t.Fatalf("Name = %q", p.Name)
	}
	if p.DataFree < 0 {
		t.Fatalf("DataFree = %d, Warnings %q: statfs failed", p.DataFree, p.Warnings)
	}
	if want := StoreMaxBytesFor(p.DataFree, p.DataUsed, MaxStoreMaxBytes); p.StoreMaxBytes != want {
		t.Errorf("StoreMaxBytes = %d, want %d for %d free", p.StoreMaxBytes, want, p.DataFree)
	}
}

func TestDetectEmptyRoot(t *testing.T) {
	root := t.TempDir()
	var asked string
	p := detect(root, "", fakeFree(0, errors.New("no statfs here"), &asked))
	if p.Name != NameGeneric || p.Model != "" || p.OS != "" {
		t.Errorf("Name, Model, OS = %q, %q, %q; want generic with nothing known", p.Name, p.Model, p.OS)
	}
	if p.MemTotal != 0 || p.MemoryLimit != 0 || p.GCPercent != 100 {
		t.Errorf("MemTotal, MemoryLimit, GCPercent = %d, %d, %d; want 0, 0, 100", p.MemTotal, p.MemoryLimit, p.GCPercent)
	}
	if p.DataFree != -1 || p.StoreMaxBytes != MinStoreMaxBytes {
		t.Errorf("DataFree, StoreMaxBytes = %d, %d; want -1, %d", p.DataFree, p.StoreMaxBytes, MinStoreMaxBytes)
	}
	if asked != root {
		t.Errorf("free space asked of %q, want the nearest existing parent %q", asked, root)
	}
	if len(p.Warnings) != 2 || !strings.Contains(p.Warnings[0], "total RAM unknown") || !strings.Contains(p.Warnings[1], "free space under /var/lib/gatemq unknown") {
		t.Errorf("Warnings = %q, want RAM and free space unknown", p.Warnings)
	}
	if p.SerialDevices() != nil {
		t.Errorf("SerialDevices() = %q on an empty root", p.SerialDevices())
	}
}

// TestDetectOpenWrtPrecedence: openwrt_release wins over a Pi device tree
// (OpenWrt runs on Pis too), and the device tree gives the model when
// /tmp/sysinfo/model is missing.
func TestDetectOpenWrtPrecedence(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/openwrt_release", "DISTRIB_ID=\"OpenWrt\"\nDISTRIB_RELEASE=\"24.10.0\"\n# comment\nnot a var\n")
	writeFile(t, root, "proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.5\x00")
	writeFile(t, root, "proc/meminfo", "MemFree: 1 kB\nMemTotal: 65536 kB\n")
	var asked string
	p := detect(root, "", fakeFree(1<<30, nil, &asked))
	if p.Name != NameOpenWrt || p.Model != "Raspberry Pi 4 Model B Rev 1.5" || p.OS != "OpenWrt 24.10.0" || p.Target != "" {
		t.Errorf("Name, Model, OS, Target = %q, %q, %q, %q", p.Name, p.Model, p.OS, p.Target)
	}
	if p.MemTotal != 64<<20 || p.MemoryLimit != 20<<20 || p.GCPercent != 50 || p.MaxPacketSize != 2560<<10 {
		t.Errorf("64 MiB router: MemTotal, MemoryLimit, GCPercent, MaxPacketSize = %d, %d, %d, %d", p.MemTotal, p.MemoryLimit, p.GCPercent, p.MaxPacketSize)
	}
	if p.StoreMaxBytes != MaxStoreMaxBytesOpenWrt {
		t.Errorf("StoreMaxBytes = %d, want the OpenWrt ceiling %d", p.StoreMaxBytes, MaxStoreMaxBytesOpenWrt)
	}
}

func TestDetectWarnsOfTmpfsDataDir(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/openwrt_release", "DISTRIB_ID='OpenWrt'\n")
	// First boot of a fresh flash: the overlay is still in RAM.
	writeFile(t, root, "proc/mounts", "tmpfs /tmp tmpfs rw 0 0\noverlayfs:/tmp/root / overlay rw,noatime,lowerdir=/,upperdir=/tmp/root/upper,workdir=/tmp/root/work 0 0\n")
	writeFile(t, root, "proc/meminfo", "MemTotal: 131072 kB\n")
	var asked string
	p := detect(root, "", fakeFree(1<<20, nil, &asked))
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "/etc/gatemq is on tmpfs mounted at /tmp") {
		t.Errorf("Warnings = %q, want one saying /etc/gatemq is on tmpfs", p.Warnings)
	}
}

func TestMemTotalErrors(t *testing.T) {
	root := t.TempDir()
	for name, text := range map[string]string{
		"none":  "MemFree: 12 kB\n",
		"bad":   "MemTotal: lots kB\n",
		"zero":  "MemTotal: 0 kB\n",
		"empty": "",
	} {
		path := writeFile(t, root, name, text)
		if n, err := memTotal(path); err == nil {
			t.Errorf("%s: memTotal = %d, want an error", name, n)
		}
	}
	path := writeFile(t, root, "bytes", "MemTotal: 1000\n")
	if n, err := memTotal(path); err != nil || n != 1000 {
		t.Errorf("no unit: memTotal = %d, %v; want 1000", n, err)
	}
}

// writeFile writes text to root/name, creating folders, and returns the path.
func writeFile(t *testing.T, root, name, text string) string {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDetectDataDirChosen: a data folder chosen by the configuration is the
// one measured, and the files already in it count as the store's space.
func TestDetectDataDirChosen(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "srv/mq/00000001.seg", strings.Repeat("x", 3<<20))
	var asked string
	p := Detector{Root: root, DataDir: "/srv/mq", Free: fakeFree(1<<20, nil, &asked)}.Detect()
	if p.DataDir != "/srv/mq" || asked != filepath.Join(root, "srv/mq") {
		t.Errorf("DataDir %q, free space asked of %q; want /srv/mq under the root", p.DataDir, asked)
	}
	if p.DataUsed != 3<<20 || p.StoreMaxBytes != 2<<20 {
		t.Errorf("DataUsed, StoreMaxBytes = %d, %d; want 3 MiB used and a 2 MiB cap (half of 1 MiB free + 3 MiB used)", p.DataUsed, p.StoreMaxBytes)
	}
}
