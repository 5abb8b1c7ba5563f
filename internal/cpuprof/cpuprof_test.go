package cpuprof

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// With -tags profile Start writes a profile (gzip: 1f 8b) once stopped;
// without it Start refuses by name and creates no file. `go test` covers
// the second, `go test -tags profile` the first.
func TestStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := Start(path)
	if !Available {
		if !errors.Is(err, ErrNotBuilt) || stop != nil {
			t.Fatalf("Start = %v, %v; want nil, ErrNotBuilt", stop != nil, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("Start left %s behind (stat: %v)", path, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile is %d bytes starting % x, want a gzip stream", len(b), b[:min(len(b), 2)])
	}
}
