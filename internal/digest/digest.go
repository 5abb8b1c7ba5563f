// Package digest is the hashing gatemq does outside TLS: the WebSocket
// handshake's SHA-1, the gateway id's HMAC-SHA256, and Mosquitto's
// password hashes (SHA-512 and PBKDF2-HMAC-SHA512) with their random salts
// and constant-time comparison.
//
// A normal build uses crypto/sha1, crypto/sha256, crypto/sha512,
// crypto/hmac, crypto/pbkdf2, crypto/rand and crypto/subtle (std.go): TLS
// links them anyway. A -tags nossl build has no TLS, and there importing
// any crypto package links Go's FIPS 140 module around it (its AES-based
// random generator, SHA-3, self-test and entropy code: about 130 KB of the
// linux/mipsle binary), so it uses this package's own SHA-1, SHA-256 and
// SHA-512 (FIPS 180-4), HMAC (RFC 2104) and PBKDF2 (RFC 8018), and reads
// salts from the kernel's random source (own.go). Those are compiled in
// every build, so that `go test` holds them to the crypto packages
// (FuzzAgainstCrypto) whichever build it is.
//
// It imports nothing of gatemq; any package may use it.
package digest

// SHA512Size is the length of a SHA-512 digest.
const SHA512Size = 64
