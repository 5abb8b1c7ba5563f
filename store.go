package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"gatemq/board"
	"gatemq/flashstore"
)

// dataDir decides where the broker's state lives: the -data flag, else
// persistence_location, else the board's data folder for root and
// ~/.local/state/gatemq for others. "" means memory only (persistence
// false).
func dataDir(cfg Config, flagDir string, p board.Profile) string {
	switch {
	case flagDir != "":
		return flagDir
	case !cfg.Persistence:
		return ""
	case cfg.PersistenceLocation != "":
		return cfg.PersistenceLocation
	case os.Geteuid() == 0:
		return p.DataDir // on persistent flash: /etc/gatemq on OpenWrt, /var/lib/gatemq elsewhere
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "gatemq")
	}
	return "gatemq-data"
}

// openStore opens (and recovers) the flash log in dir with the config's
// sync policy and size cap. It refuses to start on a log it cannot
// interpret: the error says where the damage is and what was kept aside.
func openStore(cfg Config, dir string, log *slog.Logger, p board.Profile) (*flashstore.Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	maxBytes := cfg.StoreMaxBytes
	if maxBytes == 0 {
		maxBytes = defaultStoreCap(dir)
		if p.Name == board.NameOpenWrt {
			// The overlay is shared with every package and config file.
			maxBytes = min(maxBytes, board.MaxStoreMaxBytesOpenWrt)
		}
		log.Info("store size cap chosen from free space (set store_max_bytes to choose)", "store_max_bytes", maxBytes)
	}
	st, rep, err := flashstore.Open(flashstore.Options{
		Dir:          dir,
		Sync:         cfg.Sync,
		SyncInterval: cfg.SyncInterval,
		MaxBytes:     maxBytes,
		Logger:       log.With("component", "flashstore"),
	})
	if err != nil {
		if errors.Is(err, flashstore.ErrCorrupt) {
			return nil, fmt.Errorf("the store in %s is damaged and gatemq will not serve with lost state: %w (damaged files were copied aside as *.broken; move the folder away to start empty)", dir, err)
		}
		return nil, fmt.Errorf("opening the store in %s: %w", dir, err)
	}
	attrs := []any{"dir", dir, "sync", cfg.Sync.String(), "segments", rep.Segments, "records", rep.Records,
		"live_keys", rep.LiveKeys, "took", rep.Duration}
	if rep.TruncatedBytes > 0 {
		log.Warn("store: torn tail truncated (an interrupted write from before the last stop)", append(attrs, "truncated_bytes", rep.TruncatedBytes)...)
	} else {
		log.Info("store opened", attrs...)
	}
	for _, q := range rep.Quarantined {
		log.Error("store: damaged data kept aside", "file", q)
	}
	return st, nil
}

// maxDefaultStoreCap bounds the automatic store size cap.
const maxDefaultStoreCap = 1 << 30

// defaultStoreCap is the store size cap when store_max_bytes is not set:
// half of what the store may occupy on its file system (the free space plus
// what the store already uses), so that the log never runs the disk out of
// space — where even the records that free space could not be written — and
// compaction always has room for its copy. Past the cap, new QoS 1/2
// messages are refused while removals and compaction go on. 0 (no cap)
// when the file system cannot be asked.
func defaultStoreCap(dir string) int64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	var used int64
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				used += info.Size()
			}
		}
	}
	return min((free+used)/2, maxDefaultStoreCap)
}
