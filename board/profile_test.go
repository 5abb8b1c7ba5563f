package board

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreMaxBytesFor(t *testing.T) {
	cases := []struct {
		free, ceiling, want int64
	}{
		{-1, MaxStoreMaxBytes, MinStoreMaxBytes},
		{0, MaxStoreMaxBytes, MinStoreMaxBytes},
		{512 << 10, MaxStoreMaxBytes, MinStoreMaxBytes},
		{4 << 20, MaxStoreMaxBytesOpenWrt, 1 << 20},
		{10 << 20, MaxStoreMaxBytesOpenWrt, (10 << 20) / 4},
		{128 << 20, MaxStoreMaxBytesOpenWrt, 32 << 20},
		{1 << 40, MaxStoreMaxBytesOpenWrt, MaxStoreMaxBytesOpenWrt},
		{1 << 40, MaxStoreMaxBytes, MaxStoreMaxBytes},
		{3 << 30, MaxStoreMaxBytes, (3 << 30) / 4},
	}
	for _, tc := range cases {
		got := StoreMaxBytesFor(tc.free, tc.ceiling)
		if got != tc.want {
			t.Errorf("StoreMaxBytesFor(%d, %d) = %d, want %d", tc.free, tc.ceiling, got, tc.want)
		}
		// The cap leaves flashstore room for compaction's second copy.
		if tc.free >= 2*MinStoreMaxBytes && got > tc.free/2 {
			t.Errorf("StoreMaxBytesFor(%d) = %d is more than half the free space", tc.free, got)
		}
	}
}

func TestMemoryFor(t *testing.T) {
	cases := []struct {
		total, limit int64
		gc           int
	}{
		{0, 0, 100},
		{-5, 0, 100},
		{16 << 20, MinMemoryLimit, 50},
		{32 << 20, MinMemoryLimit, 50},
		{64 << 20, 16 << 20, 50},
		{124208 << 10, 30 << 20, 50},
		{128 << 20, 32 << 20, 50},
		{256 << 20, 64 << 20, 75},
		{512 << 20, 128 << 20, 75},
		{1 << 30, 256 << 20, 100},
		{8 << 30, MaxMemoryLimit, 100},
	}
	for _, tc := range cases {
		limit, gc := MemoryFor(tc.total)
		if limit != tc.limit || gc != tc.gc {
			t.Errorf("MemoryFor(%d) = %d, %d; want %d, %d", tc.total, limit, gc, tc.limit, tc.gc)
		}
		if limit%(1<<20) != 0 {
			t.Errorf("MemoryFor(%d) limit %d is not whole MiB", tc.total, limit)
		}
	}
}

func TestSerialGlobsAreCopies(t *testing.T) {
	a := serialGlobsFor(NameOpenWrt)
	a[0] = "changed"
	if b := serialGlobsFor(NameOpenWrt); b[0] == "changed" {
		t.Fatal("serialGlobsFor returns the shared table, not a copy")
	}
	for _, name := range []string{NameOpenWrt, NameRaspberryPi, NameGeneric} {
		for _, g := range serialGlobsFor(name) {
			if _, err := filepath.Match(g, "/dev/x"); err != nil || !strings.HasPrefix(g, "/dev/") {
				t.Errorf("%s: bad glob %q (%v)", name, g, err)
			}
		}
	}
}
