//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package flashstore

// oNoFollow is 0 where O_NOFOLLOW is not known; the file type checks
// before and after opening still apply.
const oNoFollow = 0
