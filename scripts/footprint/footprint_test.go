package main

import (
	"os"
	"testing"
)

func TestGCTraceKeepsTheRuntimesFigures(t *testing.T) {
	g := new(gcTrace)
	in := "time=... level=INFO msg=listening\n" +
		"gc 1 @0.012s 3%: 0.011+1.2+0.020 ms clock, 0.022+0.1/0.5/0+0.041 ms cpu, 3->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 2 @1.5s 1%: 0.01+2+0.02 ms clock, 0.02+0/1/0+0.04 ms cpu, 19->20->13 MB, 20 MB goal, 1 MB stacks, 0 MB globals, 2 P (forced)\n" +
		"gc 3 @2.0s 1%: 0.01+2+0.02 ms clock, 0.02+0/1/0+0.04 ms cpu, 14->14->9 MB, 16 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 4 @2.5s 1%: 0.01+2+0.02 ms"
	// Written in two pieces that split a line, as a pipe may deliver it.
	if _, err := g.Write([]byte(in[:100])); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write([]byte(in[100:])); err != nil {
		t.Fatal(err)
	}
	got := g.stats()
	want := gcStats{cycles: 3, liveMB: 9, goalMB: 16, stacksMB: 0, maxLiveMB: 13}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "20MiB": 20 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "123": 123, "77B": 77} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"20MB", "x", "-1MiB", "MiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestMappingStart(t *testing.T) {
	if n, ok := mappingStart("7f1728800000-7f1728a18000 r--p 00000000 fe:00 10166299   /usr/bin/qemu-mipsel-static"); !ok || n != 0x7f1728800000 {
		t.Errorf("header: %#x, %v", n, ok)
	}
	for _, l := range []string{"Rss:                 132 kB", "VmFlags: rd mr mw me", "Anonymous:           0 kB"} {
		if _, ok := mappingStart(l); ok {
			t.Errorf("%q taken for a mapping header", l)
		}
	}
}

// TestReadsOwnMemory reads this test process natively and through smaps
// over the whole address space, which must agree on the order of magnitude.
func TestReadsOwnMemory(t *testing.T) {
	pid := os.Getpid()
	native, err := memReader{pid: pid}.read()
	if err != nil {
		t.Fatal(err)
	}
	all, err := memReader{pid: pid, guest: &addrRange{lo: 0, hi: 1<<64 - 1}}.read()
	if err != nil {
		t.Fatal(err)
	}
	if native.rss <= 0 || native.anon <= 0 || native.anon > native.rss {
		t.Errorf("native reading %+v", native)
	}
	if all.rss < native.rss/2 || all.rss > native.rss*2 || all.anon > all.rss {
		t.Errorf("smaps reading %+v far from native %+v", all, native)
	}
	if c, err := cpuSeconds(pid); err != nil || c < 0 {
		t.Errorf("cpuSeconds = %v, %v", c, err)
	}
}
