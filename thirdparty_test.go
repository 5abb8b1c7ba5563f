package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serialCopy is the patched copy of go.bug.st/serial that go.mod's replace
// directive builds gatemq with, and serialPatched the only files in it
// that are not upstream's own.
const serialCopy = "third_party/go.bug.st/serial"

var serialPatched = map[string]bool{
	"serial_linux.go":            true, // osPortFilter without package regexp
	"serial_linux_patch_test.go": true, // holds it to upstream's regexp
	"serial_unix.go":             true, // wrapError instead of fmt.Errorf
	"wrap_gatemq.go":             true, // wrapError (new)
	"unixutils/pipe.go":          true, // errors.New instead of fmt.Errorf
	"enumerator/usb_linux.go":    true, // string joins instead of fmt
	"README.gatemq.md":           true, // says what was changed and why
}

// TestSerialCopyTests runs the tests of the patched go.bug.st/serial, a
// module of its own that ./... does not reach: they hold its port-name
// filter to the regexp it replaces.
func TestSerialCopyTests(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = serialCopy
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test in %s: %v\n%s", serialCopy, err, out)
	}
}

// TestSerialCopyIsUpstream keeps the copy a copy: every file of it but the
// patched ones is byte for byte the file of the upstream version go.mod
// requires, and every non-test file of that version is there (portlist, a
// command, and the upstream's tests are left out). It needs the module
// proxy; without it, it is skipped.
func TestSerialCopyIsUpstream(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "go.bug.st/serial").Output()
	if err != nil {
		t.Fatalf("go list -m go.bug.st/serial: %v", err)
	}
	version := strings.TrimSpace(string(out))
	cmd := exec.Command("go", "mod", "download", "-json", "go.bug.st/serial@"+version)
	cmd.Dir = t.TempDir() // outside this module, whose replace would answer
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err = cmd.Output()
	var dl struct{ Dir string }
	if err != nil || json.Unmarshal(out, &dl) != nil || dl.Dir == "" {
		t.Skipf("go mod download go.bug.st/serial@%s: %v %s", version, err, out)
	}
	upstream := map[string]bool{}
	err = filepath.WalkDir(dl.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dl.Dir, path)
		if strings.HasPrefix(rel, ".") || strings.HasPrefix(rel, "portlist/") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		upstream[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	err = filepath.WalkDir(serialCopy, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(serialCopy, path)
		if strings.HasPrefix(rel, "testdata/") { // the fuzz corpus
			return nil
		}
		copied[rel] = true
		if serialPatched[rel] {
			return nil
		}
		mine, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		theirs, err := os.ReadFile(filepath.Join(dl.Dir, rel))
		if err != nil {
			t.Errorf("%s/%s is not a file of go.bug.st/serial %s", serialCopy, rel, version)
			return nil
		}
		if !bytes.Equal(mine, theirs) {
			t.Errorf("%s/%s differs from go.bug.st/serial %s's (list it in serialPatched and say why in README.gatemq.md)", serialCopy, rel, version)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range upstream {
		if !copied[rel] {
			t.Errorf("%s lacks %s of go.bug.st/serial %s", serialCopy, rel, version)
		}
	}
}
