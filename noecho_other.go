//go:build !linux

package main

import "os"

// noEcho cannot turn off the echo on this system: the password is shown.
func noEcho(*os.File) (restore func(), ok bool) { return func() {}, false }
