package logdest

import (
	"log/syslog"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestSyslogMatchesLogSyslog: syslogWriter sends what log/syslog's Writer
// sends, to a local (unixgram) and a network (udp) syslog, but for the
// time stamp.
func TestSyslogMatchesLogSyslog(t *testing.T) {
	stamp := regexp.MustCompile(`^(<\d+>)(\w{3} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[-+]\d\d:\d\d)) `)
	for _, network := range []string{"unixgram", "udp"} {
		var pc net.PacketConn
		var err error
		if network == "udp" {
			pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		} else {
			pc, err = net.ListenPacket("unixgram", filepath.Join(t.TempDir(), "log"))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		addr := pc.LocalAddr().String()
		recv := func() string {
			buf := make([]byte, 4096)
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			return stamp.ReplaceAllString(string(buf[:n]), "${1}STAMP ")
		}
		std, err := syslog.Dial(network, addr, syslog.LOG_LOCAL3|syslog.LOG_INFO, "gatemq")
		if err != nil {
			t.Fatal(err)
		}
		defer std.Close()
		own, err := dialSyslogWriter(network, addr, sysLocal0+3<<3, "gatemq")
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		for _, c := range []struct {
			sev  int
			std  func(string) error
			text string
		}{
			{sysErr, std.Err, "an error"},
			{sysWarning, std.Warning, "a warning\n"},
			{sysNotice, std.Notice, "a notice"},
			{sysInfo, std.Info, `msg="x y" n=1`},
			{sysDebug, std.Debug, "debug"},
		} {
			if err := c.std(c.text); err != nil {
				t.Fatal(err)
			}
			want := recv()
			if err := own.write(c.sev, c.text); err != nil {
				t.Fatal(err)
			}
			if got := recv(); got != want {
				t.Errorf("%s: got %q, log/syslog sent %q", network, got, want)
			}
		}
	}
}
