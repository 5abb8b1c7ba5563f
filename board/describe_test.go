package board

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDescribeOpenWrt(t *testing.T) {
	var asked string
	p := detect(filepath.Join("testdata", "openwrt"), "", fakeFree(9<<20, nil, &asked))
	got := Describe(p)
	for _, want := range []string{
		"board          openwrt\n",
		"model          Xiaomi Mi Router 4A Gigabit Edition\n",
		"os             OpenWrt 23.05.3 r23809-234f1a2efa (ramips/mt7621 mipsel_24kc)\n",
		"memory         121.3MiB total\n",
		"go memory      GOMEMLIMIT=34MiB GOGC=50 ",
		"max packet     4.2MiB (max_packet_size 4456448: an eighth of the Go memory limit)\n",
		"data folder    /etc/gatemq (persistence_location)\n",
		"free space     9MiB\n",
		"store cap      4.5MiB (store_max_bytes 4718592)\n",
		"serial globs   /dev/ttyUSB* /dev/ttyACM*\n",
		"serial found   /dev/ttyUSB0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "warning") {
		t.Errorf("Describe shows a warning for a healthy router:\n%s", got)
	}
	if !strings.HasSuffix(got, "\n") {
		t.Error("Describe does not end in a newline")
	}
}

func TestDescribeUnknowns(t *testing.T) {
	p := Profile{Name: NameGeneric, DataDir: "/var/lib/gatemq", DataFree: -1, GCPercent: 100,
		StoreMaxBytes: MinStoreMaxBytes, Root: t.TempDir(), Warnings: []string{"first", "second"}}
	got := Describe(p)
	for _, want := range []string{
		"model          unknown\n", "os             unknown\n", "memory         unknown\n",
		"go memory      no limit, GOGC=100\n", "max packet     MQTT's maximum, 256MiB (max_packet_size 268435460: no memory limit)\n", "free space     unknown\n", "serial found   none\n",
		"warning        first\nwarning        second\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %q:\n%s", want, got)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	cases := map[int64]string{
		0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB", 16 << 20: "16MiB",
		3<<30 + 1<<29: "3.5GiB", 1 << 40: "1TiB", 1 << 62: "4EiB",
	}
	for n, want := range cases {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
