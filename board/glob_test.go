package board

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGlobMatchesFilepathGlob: glob gives what filepath.Glob gives, for
// patterns with meta characters in the file name, in directories, in
// both, none at all, and bad ones.
func TestGlobMatchesFilepathGlob(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"dev/ttyUSB1", "dev/ttyUSB0", "dev/ttyUSB10", "dev/ttyACM0", "dev/serial/by-id/usb-FTDI-if00",
		"dev/serial/by-id/usb-CP2102-if00", "dev/serial0", "a/b1/x", "a/b2/x", "a/b2/y", "a/c/x", "a/b3", "star*/x"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, pat := range []string{"dev/ttyUSB*", "dev/ttyACM*", "dev/serial/by-id/*", "dev/serial0", "dev/missing", "dev/tty*",
		"a/b*/x", "a/*/*", "a/b[12]/?", "a/*", "*/b1/x", "star\\*/x", "star*/*", "dev/[", "a/[/x", "nothing*/x", "a/b3/*", "", "*"} {
		for _, full := range []string{filepath.Join(root, pat), pat} {
			if full == pat {
				wd, _ := os.Getwd()
				if err := os.Chdir(root); err != nil {
					t.Fatal(err)
				}
				got, gerr := glob(pat)
				want, werr := filepath.Glob(pat)
				os.Chdir(wd)
				if !slices.Equal(got, want) || (gerr == nil) != (werr == nil) {
					t.Errorf("relative %q: glob %q, %v; filepath.Glob %q, %v", pat, got, gerr, want, werr)
				}
				continue
			}
			got, gerr := glob(full)
			want, werr := filepath.Glob(full)
			if !slices.Equal(got, want) || (gerr == nil) != (werr == nil) || (got == nil) != (want == nil) {
				t.Errorf("%q: glob %q, %v; filepath.Glob %q, %v", pat, got, gerr, want, werr)
			}
		}
	}
}
