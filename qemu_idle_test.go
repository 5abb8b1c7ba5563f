package main

// What an idle connection costs the broker on the routers' 32-bit
// instruction sets (issue 18): TestIdleConnectionMemory's measurement with
// its broker child built for linux/mipsle and linux/arm GOARM=5 and run
// under Debian's qemu-user-static, while the 1,000 clients stay native.
//
// The child is this package's test binary cross-built with the flags of
// the shipped binary (crossBuildTest): it starts gatemq as the binary does,
// waits until the broker has parked every connection, and reports from
// inside the guest, so that qemu's own memory counts in neither figure
// that is checked against the 4 KiB budget:
//
//   - the Go heap and stacks in use after two collections (the figure the
//     native test checks), with the guest's 32-bit pointers, size classes
//     and stacks;
//   - all the Go runtime holds from the system: that, plus the free room
//     in heap spans, the runtime's metadata, and what it keeps outside the
//     heap (the network poller's descriptor of each socket, 512 bytes
//     whatever the size of a pointer): the runtime's own account of what
//     the broker takes from the kernel, its socket buffers aside. (The
//     guest's share of the qemu process's smaps, checked by hand in five
//     runs, grew 2-23% more than this figure, and stayed under 2.5 KiB.)
//
// The process's RSS growth is logged but not checked: under qemu-user it
// is the emulator's, which also grows with what qemu allocates for itself
// (for each thread the guest's runtime adds, for the code it translates):
// 2-5 KiB per connection from run to run.
//
// Missing tools skip loudly, except under GATEMQ_REQUIRE_TOOLS=1 (make
// test). `go test -short` skips it.

import (
	"strings"
	"testing"
)

// qemuIdleTargets are the architectures of the idle footprint under
// emulation, the ones issue 18 names: little-endian MIPS (OpenWrt's
// MediaTek routers, and make bench-emulated's default) and the oldest ARM
// Go supports. Big-endian mips is left to TestQemuCrossBinaries: byte order
// changes no size or layout, so its figure is mipsle's.
var qemuIdleTargets = []qemuTarget{qemuMIPSLE, qemuARMv5}

func TestQemuIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds under qemu-user are slow; opens thousands of sockets")
	}
	n := idleConns(t)
	for _, tg := range qemuIdleTargets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			qemu := requireTool(t, tg.qemu, "qemu-user-static")
			bin := crossBuildTest(t, tg)
			for _, v := range idleVariants {
				t.Run(v.name, func(t *testing.T) {
					child := startIdleChild(t, "tcp", qemu, bin)
					child.rssName = "the qemu process's RSS (the emulator's own growth included)"
					if want := goarch(tg); child.arch != want {
						t.Fatalf("the child under %s runs as %s, want %s", tg.qemu, child.arch, want)
					}
					c := child.holdIdle(t, "tcp", n, v)
					if c.held > idleBudget {
						t.Errorf("the Go runtime holds %.0f B per idle connection, over the budget of %d B", c.held, idleBudget)
					}
				})
			}
		})
	}
}

// goarch returns the GOARCH that tg builds for.
func goarch(tg qemuTarget) string {
	for _, e := range tg.env {
		if v, ok := strings.CutPrefix(e, "GOARCH="); ok {
			return v
		}
	}
	return ""
}
