//go:build profile

package cpuprof

import (
	"os"
	"runtime/pprof"

	"gatemq/internal/fmt"
)

// Available reports whether this build can write CPU profiles.
const Available = true

// Start writes a CPU profile to path until the returned stop is called.
func Start(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
