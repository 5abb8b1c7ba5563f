package serial

import (
	"io"
	"os"
	"path/filepath"
	"sort"

	"go.bug.st/serial/enumerator"

	"gatemq/internal/fmt"
)

// PortInfo describes one serial port of the machine.
type PortInfo struct {
	// Device is the device path, e.g. /dev/ttyUSB0.
	Device string
	// Links are the stable names pointing at Device under
	// /dev/serial/by-id and /dev/serial/by-path (empty when udev made none).
	Links []string
	// USB is true for a USB adapter; VID, PID (4 hex digits each), Serial
	// and Product are filled in where the system knows them.
	USB                       bool
	VID, PID, Serial, Product string
}

// ListPorts returns the serial ports of the machine, sorted by device.
// linkDirs are the folders of stable links to resolve (nil means
// /dev/serial/by-id and /dev/serial/by-path); folders that do not exist are
// skipped. It does not open any port beyond what the enumerator needs to
// tell a real ttyS port from a placeholder.
func ListPorts(linkDirs []string) ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("serial: listing serial ports: %w", err)
	}
	if linkDirs == nil {
		linkDirs = []string{"/dev/serial/by-id", "/dev/serial/by-path"}
	}
	links := map[string][]string{} // device -> links
	for _, dir := range linkDirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if target, err := filepath.EvalSymlinks(p); err == nil {
				links[target] = append(links[target], p)
			}
		}
	}
	out := make([]PortInfo, 0, len(details))
	for _, d := range details {
		out = append(out, PortInfo{Device: d.Name, Links: links[d.Name], USB: d.IsUSB,
			VID: d.VID, PID: d.PID, Serial: d.SerialNumber, Product: d.Product})
	}
	sort.Sort(byDevice(out))
	return out, nil
}

// byDevice sorts ports by device path. It is a sort.Interface rather than
// slices.SortFunc: the sort package's one interface-based sort is already
// in the binary, while slices.SortFunc[[]PortInfo] adds about 20 KB of code
// and metadata on linux/mipsle.
type byDevice []PortInfo

func (s byDevice) Len() int           { return len(s) }
func (s byDevice) Less(i, j int) bool { return s[i].Device < s[j].Device }
func (s byDevice) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// WritePortList prints ports for people writing a config: one line per
// port with its USB ids, then its stable links, then a hint.
func WritePortList(w io.Writer, ports []PortInfo) error {
	if len(ports) == 0 {
		_, err := fmt.Fprintln(w, "no serial ports found")
		return err
	}
	for _, p := range ports {
		line := p.Device
		if p.USB {
			line += fmt.Sprintf("\tUSB %s:%s", p.VID, p.PID)
			if p.Product != "" {
				line += " " + p.Product
			}
			if p.Serial != "" {
				line += " serial " + p.Serial
			}
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, l := range p.Links {
			if _, err := fmt.Fprintf(w, "\t%s\n", l); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintln(w, "\nUse a port in the config file: serial NAME DEVICE (a /dev/serial/by-id/ link keeps its name when re-plugged).")
	return err
}

// PrintPorts writes the machine's serial ports to w as WritePortList lays
// them out (the output of gatemq -list-serial). Its error is ListPorts'
// or the first write error.
func PrintPorts(w io.Writer) error {
	ports, err := ListPorts(nil)
	if err != nil {
		return err
	}
	return WritePortList(w, ports)
}
