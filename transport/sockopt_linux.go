package transport

import (
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"gatemq/internal/fmt"
)

// listenConfig returns the ListenConfig of a listener, bound to network
// interface iface unless it is "". TCP keep-alive is set once, on the
// listening socket, and Linux copies it (SO_KEEPALIVE and the TCP_KEEP*
// timings) to every socket accept returns: Go's per-connection keep-alive
// would cost each new connection four setsockopt calls.
func listenConfig(iface string) net.ListenConfig {
	return net.ListenConfig{
		KeepAlive: -1, // no per-connection keep-alive set-up: inherited from the listener
		Control: func(network, address string, c syscall.RawConn) error {
			if iface != "" {
				if err := bindToDevice(iface)(network, address, c); err != nil {
					return err
				}
			}
			if !strings.HasPrefix(network, "tcp") {
				return nil
			}
			return setKeepAlive(c, keepAlive)
		},
	}
}

// setKeepAlive turns TCP keep-alive on for the socket c with ka's timings
// (whole seconds).
func setKeepAlive(c syscall.RawConn, ka net.KeepAliveConfig) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		for _, o := range [...]struct{ level, name, value int }{
			{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(ka.Idle / time.Second)},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(ka.Interval / time.Second)},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, ka.Count},
		} {
			if serr = syscall.SetsockoptInt(int(fd), o.level, o.name, o.value); serr != nil {
				return
			}
		}
	})
	if err == nil && serr != nil {
		err = fmt.Errorf("TCP keep-alive: %w", os.NewSyscallError("setsockopt", serr))
	}
	return err
}

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
