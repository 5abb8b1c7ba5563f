package digest

import (
	"errors"

	"golang.org/x/sys/unix"
)

// random fills b from getrandom(2), which blocks until the kernel's pool
// is seeded (as crypto/rand does), or from /dev/urandom on a kernel older
// than 3.17.
func random(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Getrandom(b, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			return urandom(b)
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}
