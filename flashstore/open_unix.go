//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package flashstore

import "syscall"

// oNoFollow makes opening a segment or the manifest fail if the name was
// replaced by a symlink after the folder was listed.
const oNoFollow = syscall.O_NOFOLLOW
