//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package flashstore

import (
	"os"
	"path/filepath"
)

// lockDir opens dir/LOCK; this platform has no advisory lock, so two
// processes sharing a folder are not detected.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
}
