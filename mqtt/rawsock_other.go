//go:build !linux

package mqtt

import (
	"errors"
	"net"
	"syscall"
)

// Raw socket calls are not used outside Linux: every connection is read
// through net.Conn and written by writer goroutines.

// rawConnOf returns nil outside Linux.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// errNoRaw is what the raw calls would return; they are never made
// (rawConnOf gives no RawConn).
var errNoRaw = errors.New("mqtt: no raw sockets here")

// rawReading is empty outside Linux.
type rawReading struct{}

func (*rawReading) read(syscall.RawConn, net.Conn, []byte) (int, error) { return 0, errNoRaw }

// rawWriting is empty outside Linux.
type rawWriting struct{}

func (*rawWriting) writeNow(syscall.RawConn, net.Conn, []byte) (int, error) { return 0, errNoRaw }
