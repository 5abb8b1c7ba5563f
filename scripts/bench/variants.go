package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// variantNames lists the broker set-ups -variants accepts, in the order the
// usage text gives them.
var variantNames = []string{"gatemq", "gatemq-memory", "gatemq-base", "gatemq-always", "gatemq-interval", "gatemq-none", "mosquitto", "mosquitto-persist", "mochi", "mochi-bolt"}

// brokerKind says how to start one broker set-up under comparison; name is
// its column in the results.
type brokerKind struct {
	name    string    // variant: gatemq, gatemq-always, mosquitto-persist, ...
	program string    // "gatemq", "mosquitto" or "mochi"
	path    string    // executable
	durable bool      // state on disk: gatemq's flash log, or mosquitto's persistence file
	sync    string    // gatemq with durable: its sync policy (always, interval, none)
	nodelay bool      // mosquitto only: set_tcp_nodelay true (Go sockets have TCP_NODELAY on by default)
	clean   bool      // suffix +clean: clients use clean sessions even under -persistent
	emu     *emulator // run under a qemu-user emulator (-qemu); nil: natively
}

// emulator is how -qemu runs every broker: a qemu-user binary, and for
// dynamically linked ones (Debian's mosquitto) the foreign system root its
// libraries were unpacked into.
type emulator struct {
	qemu    string // qemu-mipsel-static, qemu-arm-static, ...
	sysroot string // -L: where the guest's absolute paths are looked up first; "" for none
	libPath string // the guest's LD_LIBRARY_PATH (host paths of the sysroot's library folders)
}

// newEmulator returns the emulator of -qemu and -sysroot. Without an
// ld.so.cache in the sysroot, the guest's loader only looks in /lib and
// /usr/lib, so the sysroot's multiarch library folders
// (lib/mipsel-linux-gnu, usr/lib/arm-linux-gnueabi, ...) are given to it
// in LD_LIBRARY_PATH.
func newEmulator(qemu, sysroot string) (*emulator, error) {
	path, err := exec.LookPath(qemu)
	if err != nil {
		return nil, fmt.Errorf("-qemu: %w (Debian: qemu-user-static)", err)
	}
	e := &emulator{qemu: path}
	if sysroot == "" {
		return e, nil
	}
	if e.sysroot, err = filepath.Abs(sysroot); err != nil {
		return nil, err
	}
	var dirs []string
	for _, pat := range []string{"lib/*-linux-gnu*", "usr/lib/*-linux-gnu*"} {
		m, _ := filepath.Glob(filepath.Join(e.sysroot, pat))
		dirs = append(dirs, m...)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("-sysroot %s: no lib/*-linux-gnu* folder", sysroot)
	}
	e.libPath = strings.Join(dirs, ":")
	return e, nil
}

// command returns the command that runs the variant's broker with args,
// under its emulator if it has one.
func (k brokerKind) command(args ...string) *exec.Cmd {
	if k.emu == nil {
		return exec.Command(k.path, args...)
	}
	pre := []string{}
	if k.emu.sysroot != "" {
		pre = append(pre, "-L", k.emu.sysroot, "-E", "LD_LIBRARY_PATH="+k.emu.libPath)
	}
	return exec.Command(k.emu.qemu, append(append(pre, k.path), args...)...)
}

// wear reports whether the variant publishes the flash-wear counters under
// $SYS/broker/store (gatemq with a flash log).
func (k brokerKind) wear() bool { return k.program == "gatemq" && k.durable }

// describe says in a few words how the variant keeps its state.
func (k brokerKind) describe() string {
	switch {
	case k.program == "gatemq" && k.durable:
		return "flash log, sync " + k.sync + " (generated config: sync " + k.sync + ", sys_interval 1, fresh data folder)"
	case k.program == "gatemq":
		return "-memory"
	case k.program == "mochi" && k.durable:
		return "mochi-mqtt/server v2 with its bolt storage hook (bbolt file, one transaction and fsync per change)"
	case k.program == "mochi":
		return "mochi-mqtt/server v2, in memory"
	case k.durable:
		return "persistence true (fresh persistence_location, default autosave: the file is written at autosave_interval 1800 s and at shutdown only)"
	}
	return "defaults (in memory)"
}

// parseVariants turns the -variants list into broker set-ups. "gatemq" is
// gatemq in memory, or with its flash log (sync always) when durable is
// set, as -durable always meant; nodelay applies to the mosquitto variants.
// mochiPath is the mochi broker of scripts/bench/mochi ("" until built);
// "gatemq-base" is the binary basePath (another build, for a before/after
// comparison) in memory.
// A gatemq name may end in +base: the same set-up with the binary
// basePath (a durable before/after comparison: gatemq-always+base).
// Any name may end in +clean: the same set-up, with clean sessions.
// A mosquitto name may end in +nodelay: the same set-up with
// set_tcp_nodelay true, as -mosquitto-nodelay gives them all, so that
// one run compares Mosquitto with its default (Nagle's algorithm on) and
// with the TCP_NODELAY that Go sockets have.
func parseVariants(list, gatemqPath, basePath, mosqPath, mochiPath string, durable, nodelay bool) ([]brokerKind, error) {
	var kinds []brokerKind
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("-variants names %q twice", name)
		}
		seen[name] = true
		k := brokerKind{name: name}
		base, clean := strings.CutSuffix(name, "+clean")
		k.clean = clean
		base, noDelay := strings.CutSuffix(base, "+nodelay")
		if noDelay && !strings.HasPrefix(base, "mosquitto") {
			return nil, fmt.Errorf("variant %q: +nodelay is for a mosquitto set-up", name)
		}
		base, other := strings.CutSuffix(base, "+base")
		if other && (basePath == "" || !strings.HasPrefix(base, "gatemq")) {
			return nil, fmt.Errorf("variant %q: +base needs a gatemq set-up and -gatemq-base PATH", name)
		}
		switch base {
		case "gatemq":
			k.program, k.durable = "gatemq", durable
			if durable {
				k.sync = "always"
			}
		case "gatemq-memory", "gatemq-base":
			k.program = "gatemq"
			if base == "gatemq-base" && basePath == "" {
				return nil, errors.New("variant gatemq-base needs -gatemq-base PATH")
			}
		case "gatemq-always", "gatemq-interval", "gatemq-none":
			k.program, k.durable, k.sync = "gatemq", true, strings.TrimPrefix(base, "gatemq-")
		case "mosquitto", "mosquitto-persist":
			k.program, k.durable, k.nodelay = "mosquitto", base == "mosquitto-persist", nodelay || noDelay
		case "mochi", "mochi-bolt":
			k.program, k.durable = "mochi", base == "mochi-bolt"
		default:
			return nil, fmt.Errorf("unknown variant %q (want some of %s, each optionally with the suffix +clean; gatemq ones +base, mosquitto ones +nodelay)", name, strings.Join(variantNames, ","))
		}
		k.path = gatemqPath
		switch {
		case base == "gatemq-base" || other:
			k.path = basePath
		case k.program == "mosquitto":
			k.path = mosqPath
		case k.program == "mochi":
			k.path = mochiPath
		}
		kinds = append(kinds, k)
	}
	if len(kinds) < 1 {
		return nil, fmt.Errorf("-variants %q names no broker", list)
	}
	return kinds, nil
}

// baselineOf returns the variant the others are compared with:
// mosquitto-persist if present, else mosquitto, else the last one.
func baselineOf(kinds []brokerKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	for _, want := range []string{"mosquitto-persist", "mosquitto"} {
		if slices.Contains(names, want) {
			return want
		}
	}
	return names[len(names)-1]
}
