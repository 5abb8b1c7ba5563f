//go:build nossl

package digest

// SHA1 returns the SHA-1 digest of b.
func SHA1(b []byte) [20]byte { return sha1Sum(b) }

// HMACSHA256 returns the HMAC-SHA256 of msg under key.
func HMACSHA256(key, msg []byte) [32]byte { return hmacSHA256(key, msg) }

// SHA512 returns the SHA-512 digest of a followed by b.
func SHA512(a, b []byte) [SHA512Size]byte { return sha512Sum(a, b) }

// PBKDF2SHA512 derives keyLen bytes from password and salt with iter
// rounds of PBKDF2-HMAC-SHA512.
func PBKDF2SHA512(password, salt []byte, iter, keyLen int) []byte {
	return pbkdf2SHA512(password, salt, iter, keyLen)
}

// Random fills b with random bytes from the kernel.
func Random(b []byte) error { return random(b) }

// Equal reports whether a and b are equal, in a time that depends only
// on their lengths.
func Equal(a, b []byte) bool { return equal(a, b) }
