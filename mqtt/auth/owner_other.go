//go:build !unix

package auth

import (
	"io/fs"
	"os"
)

// setOwner does nothing where files have no Unix owner; the file is 0600.
func setOwner(*os.File, fs.FileInfo) fs.FileMode { return 0o600 }
