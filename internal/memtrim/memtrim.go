// Package memtrim gives a burst's memory back to the system soon after the
// burst, instead of at the Go runtime's pace.
package memtrim

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"gatemq/internal/textlog"
)

// Memory trim: how often the broker's allocations are looked at, and how
// many bytes allocated in one look make it a burst.
const (
	trimEvery = 10 * time.Second
	trimBurst = 2 << 20
)

// Start gives memory back to the system soon after a burst (a
// large message, many connections at once) instead of at the Go runtime's
// pace, which on a quiet broker is minutes: a burst's garbage is only
// found by the next GC, forced after two minutes, and its pages go back
// later still; on a router the other programs need them. Every trimEvery
// it reads how much the broker allocated (runtime.ReadMemStats, which
// stops the world for about 10 µs on amd64), and when a look with
// trimBurst or more is followed by a quiet one, it gives every free page
// back (freeOSMemory). A busy broker is left to the runtime. The returned func stops it.
func Start(log *textlog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(trimEvery)
		defer t.Stop()
		var last uint64
		wasBusy := false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			now := ms.TotalAlloc
			busy := now-last >= trimBurst
			if wasBusy && !busy {
				kept, nudges := freeOSMemory()
				log.Debug("memory given back to the system after a burst", "free_kept", kept, "nudges", nudges)
			}
			last, wasBusy = now, busy
		}
	})
	return func() { close(done); wg.Wait() }
}

// Free heap memory that freeOSMemory may leave resident, how many times
// it nudges the runtime before it accepts that, and the nudge: blocks of
// nudgeBlock bytes, nudgeFactor times what stayed.
const (
	trimKept    = 1 << 20
	trimNudges  = 3
	nudgeBlock  = 64 << 10
	nudgeFactor = 4
)

// freeOSMemory calls debug.FreeOSMemory (a GC, then every free page of the
// heap back to the system) and returns the free heap bytes still resident
// afterwards (MemStats' HeapIdle - HeapReleased, runtime/metrics'
// /memory/classes/heap/free:bytes) and how many nudges it took.
//
// debug.FreeOSMemory alone does not always give everything back (Go 1.26):
// after a burst, part of the heap can stay free but resident, out of
// reach of the runtime's scavenger until something else is freed in the
// same 4 MiB chunk of the heap. As far as we can tell from the runtime's
// source, the background scavenger, woken by a collection, searches a
// chunk from a position recorded before that collection's sweep freed
// pages above it, finds nothing below, and marks the whole chunk as having
// nothing left to release; forced scavenges skip it too. After a 4 MB
// message to 4 subscribers, 4 of 21 runs of the broker kept 1.5-3 MiB
// resident this way, and a broker that does not allocate while idle kept
// it for good (TestMemoryHostilePackets failed about one run in five).
//
// What unsticks a chunk is a free in it. So while more than trimKept
// stays, freeOSMemory allocates nudgeFactor times that in nudgeBlock
// blocks, drops them and frees again, at most trimNudges times. (The
// runtime hands out the lowest free pages first, as far as we can tell,
// so small blocks reach the holes between live spans where such pages
// sit.) Runs of TestFreeOSMemoryGivesBurstsBack (300 bursts each) failed
// 2 of 4 times without nudges; with one allocation of what stayed, 3 of
// 3 failed; with blocks totalling what stayed 3 of 6, twice that 1 of 6,
// four times 0 of 30. The blocks are capped at the heap's idle pages, so
// a nudge should need little or no new memory from the system; for the
// moment it lasts it may make that much released memory resident again.
func freeOSMemory() (kept uint64, nudges int) {
	debug.FreeOSMemory()
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		kept = ms.HeapIdle - ms.HeapReleased
		if kept <= trimKept || nudges == trimNudges {
			return kept, nudges
		}
		nudges++
		total := min(kept*nudgeFactor, kept+ms.HeapReleased)
		blocks := make([][]byte, 0, total/nudgeBlock+1)
		for n := uint64(0); n < total; n += nudgeBlock {
			blocks = append(blocks, make([]byte, nudgeBlock))
		}
		runtime.KeepAlive(blocks)
		debug.FreeOSMemory()
	}
}
