//go:build linux && race

package mqtt

import "syscall"

// rawRead is read(2) through package syscall under the race detector:
// syscall.Read and syscall.Write tell the detector that what one
// goroutine wrote to a socket happens before what another reads from it,
// as the kernel orders them; raw calls would hide that edge and make it
// report races that cannot happen (and so hide real ones).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return errnoOf(n, err)
}

// rawWrite is write(2) through package syscall under the race detector,
// as rawRead.
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return errnoOf(n, err)
}

// errnoOf turns a syscall result into rawRead's and rawWrite's.
func errnoOf(n int, err error) (int, syscall.Errno) {
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}
