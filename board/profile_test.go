package board

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreMaxBytesFor(t *testing.T) {
	cases := []struct {
		free, used, ceiling, want int64
	}{
		{-1, 0, MaxStoreMaxBytes, MinStoreMaxBytes},
		{-1, 1 << 30, MaxStoreMaxBytes, MinStoreMaxBytes},
		{0, 0, MaxStoreMaxBytes, MinStoreMaxBytes},
		{256 << 10, 0, MaxStoreMaxBytes, MinStoreMaxBytes},
		{4 << 20, 0, MaxStoreMaxBytesOpenWrt, 2 << 20},
		{10 << 20, 0, MaxStoreMaxBytesOpenWrt, 5 << 20},
		// A store that already holds 6 MiB with 2 MiB free keeps its cap
		// of 4 MiB: its own files count as its space.
		{2 << 20, 6 << 20, MaxStoreMaxBytesOpenWrt, 4 << 20},
		{128 << 20, 0, MaxStoreMaxBytesOpenWrt, 32 << 20},
		{1 << 40, 0, MaxStoreMaxBytesOpenWrt, MaxStoreMaxBytesOpenWrt},
		{1 << 40, 0, MaxStoreMaxBytes, MaxStoreMaxBytes},
		{1 << 30, 0, MaxStoreMaxBytes, 512 << 20},
	}
	for _, tc := range cases {
		got := StoreMaxBytesFor(tc.free, tc.used, tc.ceiling)
		if got != tc.want {
			t.Errorf("StoreMaxBytesFor(%d, %d, %d) = %d, want %d", tc.free, tc.used, tc.ceiling, got, tc.want)
		}
		// The cap leaves flashstore room for compaction's second copy.
		if space := tc.free + tc.used; space >= 2*MinStoreMaxBytes && got > space/2 {
			t.Errorf("StoreMaxBytesFor(%d, %d) = %d is more than half the store's space", tc.free, tc.used, got)
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
		{12 << 20, MinMemoryLimit, 50},
		{16 << 20, 8 << 20, 50},
		{28 << 20, 11 << 20, 50},
		{32 << 20, 12 << 20, 50},
		{49936 << 10, 16 << 20, 50}, // a 64 MB MT7621 whose kernel kept 15 MiB
		{60 << 20, 19 << 20, 50},
		{64 << 20, 20 << 20, 50},
		{124208 << 10, 34 << 20, 50},
		{128 << 20, 36 << 20, 50},
		{256 << 20, 68 << 20, 75},
		{512 << 20, 132 << 20, 75},
		{1 << 30, 260 << 20, 100},
		{4 << 30, MaxMemoryLimit, 100},
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

// TestMemoryForSmallBoards checks the policy's promises over every MemTotal
// from 24 MiB to 1 GiB in 256 KiB steps: the limit never falls as RAM
// grows, is never under a quarter of RAM (the old policy) unless capped,
// leaves at least 60% of RAM to the rest of a board of 32 MiB or more, and
// gives a 64 MB router (MemTotal 56-64 MiB) at least the 18 MiB that 1,000
// idle clients and their bounded backlog were measured to need.
func TestMemoryForSmallBoards(t *testing.T) {
	var prev int64
	for total := int64(24 << 20); total <= 1<<30; total += 256 << 10 {
		limit, _ := MemoryFor(total)
		if limit < prev {
			t.Fatalf("MemoryFor(%d) = %d, less than %d for less RAM", total, limit, prev)
		}
		prev = limit
		if limit < total/4&^(1<<20-1) && limit != MaxMemoryLimit {
			t.Errorf("MemoryFor(%d) = %d, under a quarter of RAM", total, limit)
		}
		if total >= 32<<20 && limit > total*6/10 {
			t.Errorf("MemoryFor(%d) = %d leaves less than 60%% of RAM", total, limit)
		}
		if total >= 56<<20 && total <= 64<<20 && limit < 18<<20 {
			t.Errorf("MemoryFor(%d) = %d, under the 18 MiB a 64 MB router's load needs", total, limit)
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

func TestMaxPacketSizeFor(t *testing.T) {
	cases := []struct {
		limit int64
		want  int
	}{
		{0, MQTTMaxPacketSize},
		{-1, MQTTMaxPacketSize},
		{MinMemoryLimit, 1 << 20},
		{20 << 20, 2560 << 10}, // a 64 MB router
		{36 << 20, 4608 << 10}, // 128 MB
		{20<<20 + 1000, 2560 << 10},
		{MaxMemoryLimit, 128 << 20},
		{8 << 30, MQTTMaxPacketSize},
		{1 << 62, MQTTMaxPacketSize},
	}
	for _, tc := range cases {
		if got := MaxPacketSizeFor(tc.limit); got != tc.want {
			t.Errorf("MaxPacketSizeFor(%d) = %d, want %d", tc.limit, got, tc.want)
		}
		// A packet held three times fits in under half the limit.
		if tc.limit > 0 && tc.want < MQTTMaxPacketSize && int64(3*tc.want) > tc.limit/2 {
			t.Errorf("MaxPacketSizeFor(%d) = %d: three copies take over half the limit", tc.limit, tc.want)
		}
	}
	p := Profile{MemoryLimit: 20 << 20, MaxPacketSize: 2560 << 10}.WithMemoryLimit(64 << 20)
	if p.MemoryLimit != 64<<20 || p.MaxPacketSize != 8<<20 {
		t.Errorf("WithMemoryLimit(64 MiB): %d, %d", p.MemoryLimit, p.MaxPacketSize)
	}
}
