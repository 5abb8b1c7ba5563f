package serial

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	goserial "go.bug.st/serial"
)

// devicePort is an open serial device. go.bug.st/serial opens it, sets its
// mode and reads from it (no read timeout: Close ends a blocked Read with
// PortError{PortClosed}). Commands go out through a second descriptor of
// the same tty, an *os.File in the runtime's poller, because the library's
// Write is a plain blocking write(2): on a device that stops taking bytes
// it would block forever and hold up Close, and a Write racing Close could
// reach the descriptor number after the kernel gave it to another file.
// os.File writes honour deadlines, and its Close unblocks them and frees
// the descriptor only after they return.
type devicePort struct {
	goserial.Port
	w *os.File
}

// openSerial opens device for the bridge. The write descriptor is opened
// first: the library then sets TIOCEXCL, which refuses further opens.
func openSerial(device string, mode *goserial.Mode) (io.ReadWriteCloser, error) {
	w, err := os.OpenFile(device, os.O_WRONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	p, err := goserial.Open(device, mode)
	if err != nil {
		w.Close()
		return nil, err // a nil interface, not a nil *devicePort
	}
	return &devicePort{Port: p, w: w}, nil
}

// Write writes to the device through the poller-managed descriptor.
func (d *devicePort) Write(b []byte) (int, error) { return d.w.Write(b) }

// SetWriteDeadline bounds the writes that follow.
func (d *devicePort) SetWriteDeadline(t time.Time) error { return d.w.SetWriteDeadline(t) }

// Close closes both descriptors; a Write or Read in progress returns.
func (d *devicePort) Close() error {
	return errors.Join(d.w.Close(), d.Port.Close())
}
