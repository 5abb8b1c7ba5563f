package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"gatemq/board"
)

// applyMemoryDefaults sets the Go soft memory limit and GC target the board
// profile suggests for its RAM, unless GOMEMLIMIT or GOGC say otherwise.
func applyMemoryDefaults(p board.Profile, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") == "" && p.MemoryLimit > 0 {
		debug.SetMemoryLimit(p.MemoryLimit)
	}
	if os.Getenv("GOGC") == "" && p.GCPercent > 0 {
		debug.SetGCPercent(p.GCPercent)
	}
	log.Debug("board profile", "board", p.Name, "model", p.Model, "memory_limit", p.MemoryLimit, "gc_percent", p.GCPercent)
}
