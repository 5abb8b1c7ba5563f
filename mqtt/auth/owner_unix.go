//go:build unix

package auth

import (
	"io/fs"
	"os"
	"syscall"
)

// setOwner gives f the owner and group of fi (the file f replaces, or for
// a new file its folder: then only the group), if the process may (only
// root may give files away; otherwise they are left as they are). It
// returns the mode f should have: 0640 when f's group is not the
// process's own group (the broker's group reads a file root keeps for
// it), else 0600.
func setOwner(f *os.File, fi fs.FileInfo) fs.FileMode {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0o600
	}
	uid := int(st.Uid)
	if fi.IsDir() {
		uid = -1
	}
	_ = f.Chown(uid, int(st.Gid))
	if now, err := f.Stat(); err == nil {
		if nst, ok := now.Sys().(*syscall.Stat_t); ok && int(nst.Gid) != os.Getegid() {
			return 0o640
		}
	}
	return 0o600
}
