package serial

import (
	"bytes"
	"encoding/hex"
	"net"
	"os"

	"gatemq/internal/digest"
)

// IDSource is where GatewayID looks. Its zero value reads this machine;
// tests replace the functions.
type IDSource struct {
	// ReadFile reads a file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Interfaces lists the network interfaces; nil means net.Interfaces.
	Interfaces func() ([]net.Interface, error)
}

// machineIDFiles hold the machine id of systemd and D-Bus systems (an
// OpenWrt router usually has neither).
var machineIDFiles = [...]string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// gatewayIDKey keys the hash of the machine id: machine-id(5) asks
// applications not to publish the id itself but a keyed hash of it.
const gatewayIDKey = "gatemq serial discovery"

// GatewayID returns a stable id of this gateway for Home Assistant
// unique_ids: 12 hexadecimal digits of an HMAC-SHA-256 of the machine id
// (/etc/machine-id, else /var/lib/dbus/machine-id), else of the MAC
// address of the first interface that is up or down but not loopback and
// has one. from says which ("/etc/machine-id", "mac eth0"). Both are ""
// when there is neither; the unique_ids then hold no gateway part.
func GatewayID(src IDSource) (id, from string) {
	read, ifaces := src.ReadFile, src.Interfaces
	if read == nil {
		read = os.ReadFile
	}
	if ifaces == nil {
		ifaces = net.Interfaces
	}
	for _, name := range machineIDFiles {
		b, err := read(name)
		b = bytes.TrimSpace(b)
		if err == nil && len(b) >= 16 && !allZero(b) {
			return hashID(b), name
		}
	}
	list, err := ifaces()
	if err != nil {
		return "", ""
	}
	for _, ifc := range list {
		if ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) == 0 || allZeroBytes(ifc.HardwareAddr) {
			continue
		}
		return hashID([]byte(ifc.HardwareAddr.String())), "mac " + ifc.Name
	}
	return "", ""
}

func hashID(b []byte) string {
	sum := digest.HMACSHA256([]byte(gatewayIDKey), b)
	return hex.EncodeToString(sum[:6])
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
