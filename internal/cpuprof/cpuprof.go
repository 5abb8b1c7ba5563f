// Package cpuprof is the broker's -cpuprofile flag. runtime/pprof (with
// compress/gzip and text/tabwriter) adds about 200 KB to the linux/mipsle
// binary, flash a router should not spend on a benchmarking aid, so the
// profiler is in the binary only when it is built with -tags profile:
//
//	go build -tags profile .
//
// Without the tag Start refuses, naming the flag and the tag, rather than
// accepting the flag and writing nothing.
package cpuprof

import "errors"

// ErrNotBuilt is Start's error in a build without -tags profile.
var ErrNotBuilt = errors.New("-cpuprofile is not in this build: rebuild gatemq with -tags profile (runtime/pprof is left out to save flash)")
