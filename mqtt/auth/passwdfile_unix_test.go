//go:build unix

package auth

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteFileGroup: as root, a new file in a folder of another group
// (a packaged /etc/gatemq, root:gatemq 0750) takes that group and mode
// 0640, so the broker's user can read what `gatemq passwd` wrote; a
// rewrite keeps owner, group and that mode.
func TestWriteFileGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root may give a file another group")
	}
	const gid = 64123 // a group no one uses
	dir := t.TempDir()
	if err := os.Chown(dir, 0, gid); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "passwd")
	check := func(step string, uid int) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o640 || int(st.Gid) != gid || int(st.Uid) != uid {
			t.Errorf("%s: mode %v, owner %d:%d; want 0640 %d:%d", step, fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
		}
	}
	if err := WriteFile(path, []byte("a\n")); err != nil {
		t.Fatal(err)
	}
	check("new file", 0)
	if err := os.Chown(path, 64124, gid); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("b\n")); err != nil {
		t.Fatal(err)
	}
	check("rewrite of the broker user's file", 64124)
}
