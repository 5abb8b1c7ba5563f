package board

// Board names, the values of Profile.Name.
const (
	// NameOpenWrt is an OpenWrt (or derived) router: /etc/openwrt_release exists.
	NameOpenWrt = "openwrt"
	// NameRaspberryPi is a Raspberry Pi: the device tree's model says so.
	NameRaspberryPi = "raspberrypi"
	// NameGeneric is any other Linux machine.
	NameGeneric = "generic"
)

// Profile is what gatemq knows about the board it runs on and the defaults
// it implies. The zero value is not useful; get one from Detect.
//
// Paths in a Profile (DataDir, SerialGlobs) are as the board sees them,
// without the Root prefix.
type Profile struct {
	// Name is NameOpenWrt, NameRaspberryPi or NameGeneric.
	Name string
	// Model is the hardware model when the board tells it (device tree,
	// OpenWrt's /tmp/sysinfo/model, DMI product name); "" if unknown.
	Model string
	// OS is the distribution's own description (OpenWrt's
	// DISTRIB_DESCRIPTION, else PRETTY_NAME of /etc/os-release); "" if
	// unknown.
	OS string
	// Target is OpenWrt's DISTRIB_TARGET and DISTRIB_ARCH
	// ("ramips/mt7621 mipsel_24kc"); "" elsewhere.
	Target string
	// Root is the folder detection read from ("/" on a real board).
	Root string

	// DataDir is the default data folder, on persistent storage:
	// /etc/gatemq on OpenWrt (the overlay on flash; /tmp and /var are RAM
	// there), /var/lib/gatemq elsewhere.
	DataDir string
	// DataFree is the free space in bytes of the file system that holds
	// DataDir (or its nearest existing parent); -1 if it could not be read.
	DataFree int64
	// DataUsed is the size in bytes of the files already in DataDir (the
	// store's own segments, which it may reuse); 0 when there are none.
	DataUsed int64
	// StoreMaxBytes is the default store_max_bytes, from DataFree and
	// DataUsed by StoreMaxBytesFor. It is never 0 (which would mean "no
	// cap").
	StoreMaxBytes int64

	// MemTotal is the machine's RAM in bytes from /proc/meminfo; 0 if
	// unknown.
	MemTotal int64
	// MemoryLimit is the suggested Go soft memory limit (GOMEMLIMIT) in
	// bytes, from MemTotal by MemoryFor; 0 means leave the Go default
	// (no limit).
	MemoryLimit int64
	// GCPercent is the suggested GC target (GOGC), from MemTotal by
	// MemoryFor.
	GCPercent int
	// MaxPacketSize is the default max_packet_size (bytes, whole packet),
	// from MemoryLimit by MaxPacketSizeFor: MQTT's own maximum when there
	// is no memory limit.
	MaxPacketSize int

	// SerialGlobs are filepath.Match patterns of the serial devices worth
	// looking at on this board, most specific first.
	SerialGlobs []string

	// Warnings are problems found while detecting (DataDir on a RAM file
	// system, files that could not be read); empty when all is well.
	Warnings []string
}

// Store cap policy of StoreMaxBytesFor.
const (
	// StoreSpaceShareDivisor: the cap is the store's space / 2. The store's
	// space is the free space of its file system plus what its own files
	// already take. Compaction writes a second copy of the live data
	// before it removes the old segments, so the cap must leave that much
	// room; and a disk that fills up is then met as "store full" (QoS 1/2
	// refused, nothing acknowledged lost) while the records that free space
	// can still be written, never as ENOSPC in the middle of a batch.
	StoreSpaceShareDivisor = 2
	// MinStoreMaxBytes is the smallest cap StoreMaxBytesFor returns, even
	// when free space is smaller or unknown (the store then refuses QoS
	// 1/2 early rather than having no cap).
	MinStoreMaxBytes = 256 << 10
	// MaxStoreMaxBytesOpenWrt caps the store on OpenWrt, whose overlay is
	// shared with every installed package and config.
	MaxStoreMaxBytesOpenWrt = 32 << 20
	// MaxStoreMaxBytes caps the store on other boards.
	MaxStoreMaxBytes = 1 << 30
)

// StoreMaxBytesFor returns the default store size cap for a store whose
// file system has free bytes free and whose own files already take used
// bytes: half of free+used, at most ceiling and at least MinStoreMaxBytes.
// A negative free (unknown) yields MinStoreMaxBytes.
func StoreMaxBytesFor(free, used, ceiling int64) int64 {
	if free < 0 {
		return MinStoreMaxBytes
	}
	c := (free + max(used, 0)) / StoreSpaceShareDivisor
	return max(min(c, ceiling), MinStoreMaxBytes)
}

// Memory policy for MemoryFor.
const (
	// MemoryLimitBase is added to a quarter of RAM by MemoryFor: the part
	// of the broker's need that does not shrink with the board (the Go
	// runtime, GC headroom over a small live heap). With it a 64 MiB router
	// gets 20 MiB, which 1,000 idle clients and a bounded backlog fit in.
	MemoryLimitBase = 4 << 20
	// MinMemoryLimit is the smallest GOMEMLIMIT MemoryFor suggests.
	MinMemoryLimit = 8 << 20
	// MaxMemoryLimit is the largest GOMEMLIMIT MemoryFor suggests.
	MaxMemoryLimit = 1 << 30
)

// MemoryFor returns the suggested Go soft memory limit (bytes) and GC
// percentage for a machine with total bytes of RAM (MemTotal, which is a
// few MiB under the nominal size: a "64 MB" router reports 50-61 MiB).
//
// The limit is a quarter of RAM plus MemoryLimitBase, rounded down to whole
// MiB and clamped to [MinMemoryLimit, MaxMemoryLimit]: 20 MiB at 64 MiB
// (19 MiB at a MemTotal of 60 MiB), 36 MiB at 128 MiB, 260 MiB at 1 GiB.
// The quarter leaves the kernel, netifd, dnsmasq, hostapd and the page
// cache the larger part (OpenWrt has some 30-40 MB available after boot on
// a 64 MB router). The base is what a bare quarter misses on small boards,
// measured with scripts/footprint at GOGC 50: the 32-bit builds (mipsle,
// armv5) holding 1,000 idle clients and 100 queued QoS 1 messages for each
// keep 13 MiB of live heap; under a 16 MiB limit their anonymous memory
// peaked at 15.0-16.6 MiB (over the limit in 6 runs of 7) with 42-56 GC
// cycles, under 20 MiB at 18.1-18.2 MiB with 18-19 cycles (17 with
// no limit). The amd64 build needs 23-24 MiB for the same load; no 64 MB
// router is 64-bit. The limit is soft: the broker's bounded queues and
// connections bound its memory, the limit decides how much garbage may pile
// up before the GC works harder.
//
// The GC percentage is 50 up to 128 MiB of RAM, 75 up to 512 MiB and 100
// (Go's default) above, so the heap stays tight where RAM is scarce. A
// total of 0 or less (unknown) returns 0 (no limit) and 100.
func MemoryFor(total int64) (limit int64, gcPercent int) {
	if total <= 0 {
		return 0, 100
	}
	limit = (total/4 + MemoryLimitBase) &^ (1<<20 - 1)
	limit = min(max(limit, MinMemoryLimit), MaxMemoryLimit)
	switch {
	case total <= 128<<20:
		gcPercent = 50
	case total <= 512<<20:
		gcPercent = 75
	default:
		gcPercent = 100
	}
	return limit, gcPercent
}

// Packet size policy of MaxPacketSizeFor.
const (
	// MaxPacketDivisor: the default max_packet_size is the Go memory limit
	// divided by this.
	MaxPacketDivisor = 8
	// MQTTMaxPacketSize is MQTT's own largest packet: a fixed header of 5
	// bytes and a Remaining Length of 268,435,455.
	MQTTMaxPacketSize = 268435455 + 5
)

// MaxPacketSizeFor returns the default max_packet_size for a Go memory
// limit of limit bytes: an eighth of it, rounded down to whole KiB (2.5
// MiB at the 20 MiB of a 64 MB router, 4.5 MiB at 128 MB, 32.5 MiB at 260
// MiB), and MQTT's own maximum when limit is 0 or less (no limit) or an
// eighth would exceed it.
//
// Why an eighth: a packet the broker accepts is held at most three times
// at its peak: its body, which becomes the message (a third more while it
// arrives and the buffer grows), and for a QoS 1/2 message with a store,
// the record written from it. At an eighth that peak is under 3/8 of the
// limit, and the larger part stays with what the limit was sized for (on
// a 64 MB router, 1,000 idle clients and a bounded backlog, about 13 MiB),
// so no packet the broker accepts can take it over its memory; Mosquitto's
// default, no limit, lets one client announce 256 MB.
func MaxPacketSizeFor(limit int64) int {
	if limit <= 0 || limit/MaxPacketDivisor >= MQTTMaxPacketSize {
		return MQTTMaxPacketSize
	}
	return int(limit / MaxPacketDivisor &^ (1<<10 - 1))
}

// WithMemoryLimit returns p for a Go memory limit of limit bytes chosen
// elsewhere (GOMEMLIMIT in the environment; 0 for none), with the defaults
// that follow from the limit.
func (p Profile) WithMemoryLimit(limit int64) Profile {
	p.MemoryLimit = max(limit, 0)
	p.MaxPacketSize = MaxPacketSizeFor(p.MemoryLimit)
	return p
}

// Default serial device patterns per board. On routers /dev/ttyS0 (and
// ttyATH0, ttyMT0 ...) is usually the console, so only USB adapters are
// listed; a Raspberry Pi's /dev/serial0 is the GPIO header UART.
var (
	serialGlobsOpenWrt = []string{"/dev/ttyUSB*", "/dev/ttyACM*"}
	serialGlobsPi      = []string{"/dev/serial/by-id/*", "/dev/serial0", "/dev/ttyAMA*", "/dev/ttyUSB*", "/dev/ttyACM*"}
	serialGlobsGeneric = []string{"/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*"}
)

// serialGlobsFor returns a fresh copy of the default patterns for a board
// name, so callers may change the slice.
func serialGlobsFor(name string) []string {
	switch name {
	case NameOpenWrt:
		return append([]string(nil), serialGlobsOpenWrt...)
	case NameRaspberryPi:
		return append([]string(nil), serialGlobsPi...)
	}
	return append([]string(nil), serialGlobsGeneric...)
}

// dataDirFor returns the default data folder for a board name.
func dataDirFor(name string) string {
	if name == NameOpenWrt {
		return "/etc/gatemq"
	}
	return "/var/lib/gatemq"
}

// storeCeilingFor returns the largest default store cap for a board name.
func storeCeilingFor(name string) int64 {
	if name == NameOpenWrt {
		return MaxStoreMaxBytesOpenWrt
	}
	return MaxStoreMaxBytes
}
