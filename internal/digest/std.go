//go:build !nossl

package digest

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
)

// SHA1 returns the SHA-1 digest of b.
func SHA1(b []byte) [20]byte { return sha1.Sum(b) }

// HMACSHA256 returns the HMAC-SHA256 of msg under key.
func HMACSHA256(key, msg []byte) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return [32]byte(m.Sum(nil))
}

// SHA512 returns the SHA-512 digest of a followed by b.
func SHA512(a, b []byte) [SHA512Size]byte {
	h := sha512.New()
	h.Write(a)
	h.Write(b)
	return [SHA512Size]byte(h.Sum(nil))
}

// PBKDF2SHA512 derives keyLen bytes from password and salt with iter
// rounds of PBKDF2-HMAC-SHA512. It returns nil where crypto/pbkdf2
// refuses (only in Go's FIPS 140-only mode, for a salt under 16 bytes).
func PBKDF2SHA512(password, salt []byte, iter, keyLen int) []byte {
	k, err := pbkdf2.Key(sha512.New, string(password), salt, iter, keyLen)
	if err != nil {
		return nil
	}
	return k
}

// Random fills b with random bytes from the kernel.
func Random(b []byte) error {
	_, err := rand.Read(b)
	return err
}

// Equal reports whether a and b are equal, in a time that depends only
// on their lengths.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
