package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gatemq/flashstore"
)

// dataDir decides where the broker's state lives: the -data flag, else
// persistence_location, else /var/lib/gatemq for root and
// ~/.local/state/gatemq for others. "" means memory only (persistence
// false).
func dataDir(cfg Config, flagDir string) string {
	switch {
	case flagDir != "":
		return flagDir
	case !cfg.Persistence:
		return ""
	case cfg.PersistenceLocation != "":
		return cfg.PersistenceLocation
	case os.Geteuid() == 0:
		return "/var/lib/gatemq"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "gatemq")
	}
	return "gatemq-data"
}

// openStore opens (and recovers) the flash log in dir with the config's
// sync policy and size cap. It refuses to start on a log it cannot
// interpret: the error says where the damage is and what was kept aside.
func openStore(cfg Config, dir string, log *slog.Logger) (*flashstore.Log, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	st, rep, err := flashstore.Open(flashstore.Options{
		Dir:          dir,
		Sync:         cfg.Sync,
		SyncInterval: cfg.SyncInterval,
		MaxBytes:     cfg.StoreMaxBytes,
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
