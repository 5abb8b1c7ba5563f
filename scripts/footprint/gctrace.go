package main

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
)

// gcStats is the Go runtime's own view of the broker's heap, from the lines
// GODEBUG=gctrace=1 prints at the end of each GC cycle ("gc 12 @3.1s 2%:
// ... 9->9->5 MB, 10 MB goal, 1 MB stacks, 0 MB globals, 2 P").
type gcStats struct {
	// cycles is how many GC cycles have ended.
	cycles int
	// liveMB is the heap marked live by the last cycle; goalMB the heap
	// size that cycle aimed the next one at; stacksMB the goroutine stack
	// bytes it scanned. MB are MiB, truncated, as the runtime prints them.
	liveMB, goalMB, stacksMB int
	// maxLiveMB is the largest liveMB of any cycle so far.
	maxLiveMB int
}

// gcTrace is an io.Writer for a broker's stderr that keeps the gctrace
// figures and ignores every other line. Safe for concurrent use.
type gcTrace struct {
	mu      sync.Mutex
	partial []byte
	st      gcStats
}

// Write consumes stderr bytes; it never fails.
func (g *gcTrace) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.partial = append(g.partial, p...)
	for {
		i := bytes.IndexByte(g.partial, '\n')
		if i < 0 {
			break
		}
		g.line(string(g.partial[:i]))
		g.partial = g.partial[i+1:]
	}
	if len(g.partial) > 1<<16 { // a runaway line without newline
		g.partial = g.partial[:0]
	}
	return len(p), nil
}

// line takes one stderr line; the caller holds g.mu.
func (g *gcTrace) line(s string) {
	if !strings.HasPrefix(s, "gc ") {
		return
	}
	_, rest, ok := strings.Cut(s, " ms cpu, ")
	if !ok {
		return
	}
	// rest: "9->9->5 MB, 10 MB goal, 1 MB stacks, 0 MB globals, 2 P"
	parts := strings.Split(rest, ", ")
	if len(parts) < 3 {
		return
	}
	heap := strings.Split(strings.TrimSuffix(parts[0], " MB"), "->")
	live, err := strconv.Atoi(heap[len(heap)-1])
	if err != nil {
		return
	}
	g.st.cycles++
	g.st.liveMB = live
	g.st.maxLiveMB = max(g.st.maxLiveMB, live)
	g.st.goalMB = leadingInt(parts[1])
	g.st.stacksMB = leadingInt(parts[2])
}

// leadingInt parses the number at the start of "10 MB goal" (0 if none).
func leadingInt(s string) int {
	f, _, _ := strings.Cut(s, " ")
	n, _ := strconv.Atoi(f)
	return n
}

// stats returns the figures so far.
func (g *gcTrace) stats() gcStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}
