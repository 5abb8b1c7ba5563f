//go:build linux && !race

package mqtt

import (
	"syscall"
	"unsafe"
)

// rawRead is read(2) on the non-blocking socket fd, without the runtime's
// bookkeeping around a system call that may block (see rawsock_linux.go).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// rawWrite is write(2) on the non-blocking socket fd, as rawRead.
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}
