package digest

import "encoding/binary"

// HMAC (RFC 2104) and PBKDF2 (RFC 8018) over md, and a constant-time
// comparison, for the -tags nossl build (see the package comment).

// hmacKeyed returns the hashes that start an HMAC under key: the inner
// one has absorbed key^ipad, the outer one key^opad.
func hmacKeyed(newHash func() md, key []byte) (inner, outer md) {
	inner, outer = newHash(), newHash()
	if len(key) > inner.block {
		h := newHash()
		h.write(key)
		key = h.sum(nil)
	}
	var pad [128]byte
	copy(pad[:], key)
	for i := range pad[:inner.block] {
		pad[i] ^= 0x36
	}
	inner.write(pad[:inner.block])
	for i := range pad[:outer.block] {
		pad[i] ^= 0x36 ^ 0x5c
	}
	outer.write(pad[:outer.block])
	return inner, outer
}

// hmacSum appends the HMAC of msg to b, given hmacKeyed's hashes (which
// it takes by value and so leaves as they were).
func hmacSum(inner, outer md, msg, b []byte) []byte {
	var tmp [SHA512Size]byte
	inner.write(msg)
	outer.write(inner.sum(tmp[:0]))
	return outer.sum(b)
}

func hmacSHA256(key, msg []byte) (out [32]byte) {
	inner, outer := hmacKeyed(newSHA256, key)
	hmacSum(inner, outer, msg, out[:0])
	return
}

// pbkdf2SHA512 is PBKDF2 with HMAC-SHA512: nil for a keyLen below 1, as
// crypto/pbkdf2 refuses it.
func pbkdf2SHA512(password, salt []byte, iter, keyLen int) []byte {
	if keyLen < 1 {
		return nil
	}
	inner, outer := hmacKeyed(newSHA512, password)
	out := make([]byte, 0, keyLen+SHA512Size)
	var u, t [SHA512Size]byte
	for block := uint32(1); len(out) < keyLen; block++ {
		first := append(append(make([]byte, 0, len(salt)+4), salt...), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(first[len(salt):], block)
		hmacSum(inner, outer, first, u[:0])
		t = u
		for i := 1; i < iter; i++ {
			hmacSum(inner, outer, u[:], u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t[:]...)
	}
	return out[:keyLen]
}

// equal reports whether a and b are equal, looking at every byte.
func equal(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
