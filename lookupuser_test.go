package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLookupUser reads /etc/passwd and /etc/group lines as os/user does
// without cgo: comments, blank lines and NIS entries skipped, the
// supplementary groups from the member lists.
func TestLookupUser(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	os.WriteFile(passwd, []byte("# comment\n\nroot:x:0:0:root:/root:/bin/ash\n+mosquitto::::::\n  mosquitto:x:200:201:mosquitto:/var/run/mosquitto:/bin/false\nbad:x:nope:1:::\n"), 0o644)
	os.WriteFile(group, []byte("root:x:0:\nmosquitto:x:201:\ndialout:x:20:root,mosquitto\n-dialout:x:21:mosquitto\nusers:x:100:mosquittoo\nlog:x:300:mosquitto\n"), 0o644)
	u, err := lookupUser("mosquitto", passwd, group)
	if err != nil {
		t.Fatal(err)
	}
	if u.uid != 200 || u.gid != 201 || !slices.Equal(u.groups, []int{20, 300}) {
		t.Errorf("mosquitto: %+v, want uid 200, gid 201, groups [20 300]", u)
	}
	for _, name := range []string{"nobody", "bad", "+mosquitto"} {
		if _, err := lookupUser(name, passwd, group); err == nil || err.Error() != "user: unknown user "+name {
			t.Errorf("%s: error %v, want os/user's unknown user", name, err)
		}
	}
	if _, err := lookupUser("root", filepath.Join(dir, "missing"), group); err == nil {
		t.Error("a missing passwd file: no error")
	}
}
