//go:build !linux

package mqtt

import (
	"errors"
	"net"
)

// rawSock is not used outside Linux: every connection is read through
// net.Conn and written by writer goroutines.
type rawSock struct{}

// newRawSock returns nil outside Linux.
func newRawSock(net.Conn) *rawSock { return nil }

// Read is never called (newRawSock gives none).
func (*rawSock) Read([]byte) (int, error) { return 0, errors.New("mqtt: no raw sockets here") }

// writeNow is never called (newRawSock gives none).
func (*rawSock) writeNow([]byte) (int, error) { return 0, errors.New("mqtt: no raw sockets here") }
