package transport

import (
	"fmt"
	"os"
	"syscall"
)

// bindToDevice returns a ListenConfig.Control that binds the socket to the
// network interface dev (SO_BINDTODEVICE).
func bindToDevice(dev string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.BindToDevice(int(fd), dev)
		})
		if err == nil && serr != nil {
			err = fmt.Errorf("bind_interface %s: %w", dev, serr)
		}
		return err
	}
}

// removeStaleSocket removes a Unix socket file left at path by a process
// that did not stop cleanly; anything else at path is left for Listen to
// refuse.
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
}
