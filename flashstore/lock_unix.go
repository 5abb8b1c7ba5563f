//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package flashstore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"gatemq/internal/fmt"
)

// lockDir takes an exclusive advisory lock on dir/LOCK so that two
// processes never append to the same log. The lock lasts until the
// returned file is closed.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("flashstore: lock %s: %w", dir, err)
	}
	return f, nil
}
