// Package board knows the physical gateway gatemq runs on: which kind of
// machine it is (an OpenWrt router, a Raspberry Pi, some other Linux box),
// and the defaults that follow from it — where state can live on
// persistent flash, how large the store may grow, how much memory the Go
// runtime may use, and which serial devices to look at.
//
// It owns the board profiles:
//
//   - detect (detect.go): [Detect] reads the machine into a [Profile], and
//     [Profile.SerialDevices] lists the devices matching its serial globs;
//   - describe (describe.go): [Describe] is the report `gatemq -board`
//     prints, with [FormatBytes] for sizes;
//   - mounts (mounts.go): [TmpfsWarning] says when a data folder would
//     live in RAM and be lost at reboot;
//   - memory and store defaults (profile.go): [MemoryFor] gives the Go
//     memory limit and GC percentage for an amount of RAM, and
//     [StoreMaxBytesFor] the store's size cap for the free space of a file
//     system.
//
// The serial sensor bridge is not here: it is package gatemq/board/serial.
//
// # Dependencies
//
// board must never import anything of this module (gatemq/board/serial
// included) nor the serial library go.bug.st/serial: it is plain data and
// file reading, the bottom of the dependency graph. deps_test.go at the
// module root enforces this.
//
// # Usage
//
// Board detection reads files below a root folder that the caller passes,
// never "/" directly, so tests run against fake roots in testdata/:
//
//	p := board.Detect("/")
//	fmt.Print(board.Describe(p))
//	if w := board.TmpfsWarning(dataDir, "/"); w != "" {
//		log.Warn(w)
//	}
//
// A Profile is plain data. Applying it (debug.SetMemoryLimit,
// debug.SetGCPercent, choosing the data folder) is main's job, so this
// package changes no process-wide state.
package board
