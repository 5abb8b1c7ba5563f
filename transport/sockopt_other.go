//go:build !linux

package transport

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// listenConfig returns the ListenConfig of a listener, bound to network
// interface iface unless it is "" (which only Linux supports): TCP
// keep-alive is set on every accepted connection.
func listenConfig(iface string) net.ListenConfig {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	if iface != "" {
		lc.Control = bindToDevice(iface)
	}
	return lc
}

// bindToDevice fails: SO_BINDTODEVICE is Linux's.
func bindToDevice(dev string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		return errors.New("bind_interface " + dev + ": only available on Linux")
	}
}

// removeStaleSocket removes a Unix socket file left at path.
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
}
