package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidUsername(t *testing.T) {
	for _, ok := range []string{"alice", "a b", "émile", "dev+1", "x#", strings.Repeat("u", 65535)} {
		if err := ValidUsername(ok); err != nil {
			t.Errorf("ValidUsername(%.20q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a:b", "a\nb", "a\tb", "\x7f", "#x", " a", "a ", "\xff", strings.Repeat("u", 65536)} {
		if err := ValidUsername(bad); !errors.Is(err, ErrUsername) {
			t.Errorf("ValidUsername(%.20q) = %v, want ErrUsername", bad, err)
		}
	}
}

func TestSetAndDeleteEntry(t *testing.T) {
	h1, _ := HashPBKDF2([]byte("one"), 2)
	h2, _ := HashPBKDF2([]byte("two"), 2)
	start := "# keep me\nalice:" + h1 + "\n\nbob:" + h1 // no final newline, as mosquitto_passwd writes

	out, replaced, err := SetEntry([]byte(start), "bob", h2)
	if err != nil || !replaced {
		t.Fatalf("SetEntry(bob) replaced=%v err=%v", replaced, err)
	}
	want := "# keep me\nalice:" + h1 + "\n\nbob:" + h2 + "\n"
	if string(out) != want {
		t.Fatalf("SetEntry(bob) =\n%s\nwant\n%s", out, want)
	}
	out, replaced, err = SetEntry(out, "carol", h1)
	if err != nil || replaced {
		t.Fatalf("SetEntry(carol) replaced=%v err=%v", replaced, err)
	}
	if !strings.HasSuffix(string(out), "\ncarol:"+h1+"\n") {
		t.Fatalf("carol not appended:\n%s", out)
	}
	p := parseString(t, string(out))
	if !p.Check("bob", []byte("two")) || !p.Check("alice", []byte("one")) || !p.Check("carol", []byte("one")) {
		t.Fatal("edited file does not check")
	}

	// A duplicate (hand-edited file) collapses into the one new line.
	dup := "x:" + h1 + "\nx:" + h1 + "\n"
	out, _, _ = SetEntry([]byte(dup), "x", h2)
	if strings.Count(string(out), "x:") != 1 {
		t.Fatalf("duplicate kept:\n%s", out)
	}

	out, found := DeleteEntry([]byte(start), "alice")
	if !found || strings.Contains(string(out), "alice") || !strings.Contains(string(out), "# keep me\n") {
		t.Fatalf("DeleteEntry(alice) found=%v:\n%s", found, out)
	}
	if _, found := DeleteEntry([]byte(start), "nobody"); found {
		t.Fatal("DeleteEntry found a missing user")
	}
	if _, _, err := SetEntry(nil, "a:b", h1); !errors.Is(err, ErrUsername) {
		t.Fatalf("SetEntry with bad user: %v", err)
	}
	if _, _, err := SetEntry(nil, "a", "plain"); err == nil {
		t.Fatal("SetEntry accepted a bad hash")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	if err := WriteFile(path, []byte("a\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, err %v; want 0600", fi.Mode(), err)
	}
	// Replacing a 0644 file makes it 0600; through a symlink, the target is replaced.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("b\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "b\n" {
		t.Fatalf("target = %q", got)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after rewrite = %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir"), nil); err == nil {
		t.Fatal("WriteFile into a missing folder succeeded")
	}
}
