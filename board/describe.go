package board

import (
	"strings"

	"gatemq/internal/fmt"
)

// Describe returns the human-readable report `gatemq -board` prints: the
// detected board and the defaults it implies, one "label  value" line each,
// ending in a newline. Warnings come last, one per line.
func Describe(p Profile) string {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-15s%s\n", label, fmt.Sprintf(format, args...))
	}
	line("board", "%s", p.Name)
	line("model", "%s", orUnknown(p.Model))
	os := orUnknown(p.OS)
	if p.Target != "" {
		os += " (" + p.Target + ")"
	}
	line("os", "%s", os)
	if p.MemTotal > 0 {
		line("memory", "%s total", FormatBytes(p.MemTotal))
	} else {
		line("memory", "unknown")
	}
	if p.MemoryLimit > 0 {
		line("go memory", "GOMEMLIMIT=%s GOGC=%d (the environment's GOMEMLIMIT and GOGC win)", FormatBytes(p.MemoryLimit), p.GCPercent)
	} else {
		line("go memory", "no limit, GOGC=%d", p.GCPercent)
	}
	if p.MaxPacketSize > 0 && p.MaxPacketSize < MQTTMaxPacketSize {
		line("max packet", "%s (max_packet_size %d: an eighth of the Go memory limit)", FormatBytes(int64(p.MaxPacketSize)), p.MaxPacketSize)
	} else {
		line("max packet", "MQTT's maximum, 256MiB (max_packet_size %d: no memory limit)", MQTTMaxPacketSize)
	}
	line("data folder", "%s (persistence_location)", p.DataDir)
	if p.DataFree >= 0 {
		line("free space", "%s", FormatBytes(p.DataFree))
	} else {
		line("free space", "unknown")
	}
	line("store cap", "%s (store_max_bytes %d)", FormatBytes(p.StoreMaxBytes), p.StoreMaxBytes)
	line("serial globs", "%s", strings.Join(p.SerialGlobs, " "))
	if devs := p.SerialDevices(); len(devs) > 0 {
		line("serial found", "%s", strings.Join(devs, " "))
	} else {
		line("serial found", "none")
	}
	for _, w := range p.Warnings {
		line("warning", "%s", w)
	}
	return b.String()
}

// orUnknown returns s, or "unknown" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// FormatBytes formats n bytes with a binary unit in the form Go's
// GOMEMLIMIT accepts when the value is whole ("16MiB"), else with one
// decimal ("1.5GiB"); below 1 KiB it is "123B".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	div, i := int64(unit), 0
	for n/div >= unit && i < len(units)-1 {
		div *= unit
		i++
	}
	if n%div == 0 {
		return fmt.Sprintf("%d%s", n/div, units[i])
	}
	return fmt.Sprintf("%.1f%s", float64(n)/float64(div), units[i])
}
