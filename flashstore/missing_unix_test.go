//go:build unix

package flashstore

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A segment that is a symlink is refused, wherever it is in the log (and
// also when it points to a good copy): the log reads only its own files.
func TestSymlinkSegmentIsRefused(t *testing.T) {
	for _, which := range []string{"first", "middle", "last"} {
		t.Run(which, func(t *testing.T) {
			opts := testOptions(t)
			opts.SegmentSize = 1024
			build(t, opts, 40, 19)
			segs := segFiles(t, opts.Dir)
			target := map[string]string{"first": segs[0], "middle": segs[len(segs)/2], "last": segs[len(segs)-1]}[which]
			elsewhere := filepath.Join(t.TempDir(), filepath.Base(target))
			if err := os.Rename(target, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, target); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, opts, target, "not a regular file", "symlink")
		})
	}
}

// A directory or a FIFO with a segment's name is refused too.
func TestNonRegularSegmentIsRefused(t *testing.T) {
	for _, kind := range []string{"directory", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			opts := testOptions(t)
			build(t, opts, 5, 20)
			odd := filepath.Join(opts.Dir, segmentName(1<<40))
			var err error
			if kind == "directory" {
				err = os.Mkdir(odd, 0o755)
			} else {
				err = syscall.Mkfifo(odd, 0o644)
			}
			if err != nil {
				t.Skipf("cannot make a %s: %v", kind, err)
			}
			wantRefused(t, opts, odd, "not a regular file")
		})
	}
}
