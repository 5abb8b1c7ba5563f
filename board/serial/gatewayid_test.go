package serial

import (
	"net"
	"os"
	"strings"
	"testing"
)

func TestGatewayID(t *testing.T) {
	files := map[string]string{}
	var ifaces []net.Interface
	src := IDSource{
		ReadFile: func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		},
		Interfaces: func() ([]net.Interface, error) { return ifaces, nil },
	}
	mac := func(s string) net.HardwareAddr {
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if id, from := GatewayID(src); id != "" || from != "" {
		t.Fatalf("nothing to read: %q %q", id, from)
	}
	ifaces = []net.Interface{
		{Name: "lo", Flags: net.FlagLoopback | net.FlagUp, HardwareAddr: mac("00:00:00:00:00:00")},
		{Name: "wg0", Flags: net.FlagUp},                                            // no MAC
		{Name: "br-lan", Flags: net.FlagUp, HardwareAddr: mac("00:00:00:00:00:00")}, // all zero
		{Name: "eth0", HardwareAddr: mac("b8:27:eb:12:34:56")},
		{Name: "eth1", HardwareAddr: mac("b8:27:eb:ff:ff:ff")},
	}
	idMAC, from := GatewayID(src)
	if len(idMAC) != 12 || from != "mac eth0" {
		t.Fatalf("from a MAC: %q %q", idMAC, from)
	}
	files["/etc/machine-id"] = "00000000000000000000000000000000\n" // not set up
	files["/var/lib/dbus/machine-id"] = "5b8e0c5a2f7d4f4f9a3c2b1d0e9f8a7b\n"
	idDBus, from := GatewayID(src)
	if len(idDBus) != 12 || from != "/var/lib/dbus/machine-id" || idDBus == idMAC {
		t.Fatalf("from D-Bus: %q %q", idDBus, from)
	}
	files["/etc/machine-id"] = "0d1f2e3c4b5a69788796a5b4c3d2e1f0\n"
	id, from := GatewayID(src)
	if len(id) != 12 || from != "/etc/machine-id" || id == idDBus || strings.Contains("0d1f2e3c4b5a69788796a5b4c3d2e1f0", id) {
		t.Fatalf("from /etc/machine-id: %q %q", id, from)
	}
	if again, _ := GatewayID(src); again != id {
		t.Fatal("not stable")
	}
	// Two gateways, one port name: different unique_ids and devices.
	c1 := Config{Name: "meter", Format: FormatKV, GatewayID: id}.Normalize()
	c2 := Config{Name: "meter", Format: FormatKV, GatewayID: idMAC}.Normalize()
	p1, p2 := string(discoveryPayload(&c1, "power", "t", "", nil)), string(discoveryPayload(&c2, "power", "t", "", nil))
	if !strings.Contains(p1, `"unique_id":"gatemq_`+id+`_meter_power"`) || !strings.Contains(p2, `"identifiers":["gatemq_`+idMAC+`_meter"]`) {
		t.Fatalf("payloads %s\n%s", p1, p2)
	}
}
