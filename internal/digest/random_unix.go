package digest

import (
	"io"
	"os"
)

// urandom fills b from /dev/urandom.
func urandom(b []byte) error {
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.ReadFull(f, b)
	return err
}
