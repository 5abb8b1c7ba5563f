package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

// startMemoryTrim gives memory back to the system soon after a burst (a
// large message, many connections at once) instead of at the Go runtime's
// pace, which on a quiet broker is minutes: a burst's garbage is only
// found by the next GC, forced after two minutes, and its pages go back
// later still; on a router the other programs need them. Every trimEvery
// it reads how much the broker allocated (runtime/metrics, cheap), and
// when a look with trimBurst or more is followed by a quiet one, it gives
// every free page back (freeOSMemory). A busy broker is left to the
// runtime. The returned func stops it.
func startMemoryTrim(log *textlog.Logger) (stop func()) {
	allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	free := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
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
			metrics.Read(allocs)
			now := allocs[0].Value.Uint64()
			busy := now-last >= trimBurst
			if wasBusy && !busy {
				kept, nudges := freeOSMemory(free)
				log.Debug("memory given back to the system after a burst", "free_kept", kept, "nudges", nudges)
			}
			last, wasBusy = now, busy
		}
	})
	return func() { close(done); wg.Wait() }
}

// Free heap memory that freeOSMemory may leave resident, and how many
// times it nudges the runtime before it accepts that.
const (
	trimKept   = 1 << 20
	trimNudges = 3
)

// freeOSMemory calls debug.FreeOSMemory (a GC, then every free page of the
// heap back to the system) and returns the free heap bytes still resident
// afterwards (free is a sample of /memory/classes/heap/free:bytes, reused)
// and how many nudges it took.
//
// debug.FreeOSMemory alone does not always give everything back (Go 1.26):
// after a burst, part of the heap can stay free but resident, out of
// reach of the runtime's scavenger until something else is freed next to
// it. As far as we can tell from the runtime's source, the background
// scavenger, woken by a collection, searches a chunk of the heap from a
// position recorded before that collection's sweep freed pages above it,
// finds nothing below, and marks the whole chunk as having nothing left to
// release; the forced scavenge then skips the chunk too. After a 4 MB
// message to 4 subscribers, 4 of 21 runs kept 1.5-3 MiB resident this way
// (free minus released heap right after the trim), and a broker that does
// not allocate while idle kept it for good, failing
// TestMemoryHostilePackets about one run in five. A loop of 300 such
// bursts in one process kept more than 1 MiB after 17, 0, 37 and 1 of
// them. What unsticks it is a free in the same region: so while more
// than trimKept stays, freeOSMemory allocates that many bytes, drops them
// and asks again, up to trimNudges times. In the same loop no burst kept
// more than 1 MiB after that (0 of 43 that did before), usually after one
// nudge. A nudge may hold up to kept bytes more for the moment it lasts.
func freeOSMemory(free []metrics.Sample) (kept uint64, nudges int) {
	debug.FreeOSMemory()
	for {
		metrics.Read(free)
		kept = free[0].Value.Uint64()
		if kept <= trimKept || nudges == trimNudges {
			return kept, nudges
		}
		nudges++
		b := make([]byte, kept)
		runtime.KeepAlive(b)
		debug.FreeOSMemory()
	}
}
