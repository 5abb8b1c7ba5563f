//go:build linux || darwin || freebsd

package flashstore

import "syscall"

// freeSpace returns the bytes an unprivileged writer may still add to the
// file system holding dir; ok is false when that is not known.
func freeSpace(dir string) (free int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
