//go:build !(linux || darwin || freebsd)

package flashstore

// freeSpace returns the bytes an unprivileged writer may still add to the
// file system holding dir; on this platform that is not known.
func freeSpace(dir string) (free int64, ok bool) { return 0, false }
