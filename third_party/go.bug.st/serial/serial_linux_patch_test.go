// gatemq: tests of gatemq's patch of serial_linux.go (see osPortFilter).

package serial

import (
	"regexp"
	"testing"
)

// upstreamPortFilter is the filter of go.bug.st/serial v1.8.0.
var upstreamPortFilter = regexp.MustCompile("(ttyS|ttyHS|ttyUSB|ttyACM|ttyAMA|rfcomm|ttyO|ttymxc)[0-9]{1,3}")

var portFilterSeeds = []string{
	"", "ttyS0", "ttyS", "ttyS12345", "ttyUSB0", "ttyUSB", "ttyACM3", "ttyAMA0", "ttyHS1", "rfcomm0",
	"ttyO2", "ttymxc4", "ttyGS0", "tty0", "tty", "console", "ptmx", "ttyprintk", "xttyUSB0y",
	"ttyttyS9", "ttyOx", "ttyO", "ttymxc", "ttyUSB٣", "tty\xffS0", "\xe2ttyS1", "ttyS\x00", "TTYS0",
	"serial/by-id/usb-FTDI-if00-port0", "ttyUSBttyACM", "ttyS/1",
}

func TestPortFilterMatchesUpstream(t *testing.T) {
	for _, name := range portFilterSeeds {
		if got, want := osPortFilter.MatchString(name), upstreamPortFilter.MatchString(name); got != want {
			t.Errorf("MatchString(%q) = %v, upstream's regexp says %v", name, got, want)
		}
	}
}

func FuzzPortFilter(f *testing.F) {
	for _, name := range portFilterSeeds {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := osPortFilter.MatchString(name), upstreamPortFilter.MatchString(name); got != want {
			t.Errorf("MatchString(%q) = %v, upstream's regexp says %v", name, got, want)
		}
	})
}
