//go:build !profile

package cpuprof

// Available reports whether this build can write CPU profiles.
const Available = false

// Start refuses: this build has no profiler.
func Start(string) (stop func(), err error) {
	return nil, ErrNotBuilt
}
