package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"testing"
)

// checkAgainstCrypto holds the own hashes (the -tags nossl build's) and
// the exported functions (this build's) to the crypto packages.
func checkAgainstCrypto(t *testing.T, a, b []byte, iter, keyLen int) {
	t.Helper()
	if got, want := sha1Sum(a), sha1.Sum(a); got != want || SHA1(a) != want {
		t.Errorf("SHA-1 of %x: %x, want %x", a, got, want)
	}
	if got, want := sha256Sum(a), sha256.Sum256(a); got != want {
		t.Errorf("SHA-256 of %x: %x, want %x", a, got, want)
	}
	cat := append(append([]byte(nil), a...), b...)
	if got, want := sha512Sum(a, b), sha512.Sum512(cat); got != want || SHA512(a, b) != want {
		t.Errorf("SHA-512 of %x: %x, want %x", cat, got, want)
	}
	m := hmac.New(sha256.New, a)
	m.Write(b)
	want := m.Sum(nil)
	if got := hmacSHA256(a, b); !bytes.Equal(got[:], want) || !bytes.Equal(func() []byte { s := HMACSHA256(a, b); return s[:] }(), want) {
		t.Errorf("HMAC-SHA256 key %x msg %x: %x, want %x", a, b, got, want)
	}
	k, err := pbkdf2.Key(sha512.New, string(a), b, iter, keyLen)
	if err != nil {
		k = nil
	}
	if got := pbkdf2SHA512(a, b, iter, keyLen); !bytes.Equal(got, k) || (got == nil) != (k == nil) {
		t.Errorf("PBKDF2-HMAC-SHA512 password %x salt %x iter %d len %d: %x, want %x", a, b, iter, keyLen, got, k)
	}
	if got := PBKDF2SHA512(a, b, iter, keyLen); !bytes.Equal(got, k) {
		t.Errorf("PBKDF2SHA512: %x, want %x", got, k)
	}
	for _, y := range [][]byte{b, a, append(append([]byte(nil), a...), 0)} {
		w := subtle.ConstantTimeCompare(a, y) == 1
		if equal(a, y) != w || Equal(a, y) != w {
			t.Errorf("equal(%x, %x) != %v", a, y, w)
		}
	}
}

// TestBlockBoundaries covers every message length around the 64- and
// 128-byte blocks and their length fields.
func TestBlockBoundaries(t *testing.T) {
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i*7 + 3)
	}
	for n := 0; n <= len(msg); n++ {
		checkAgainstCrypto(t, msg[:n], msg[n/2:n], 1+n%3, 1+n%150)
	}
}

// TestKnownAnswers checks the FIPS 180-4 examples ("abc") and RFC 4231's
// first HMAC-SHA256 case, independently of the crypto packages.
func TestKnownAnswers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{hex.EncodeToString(func() []byte { s := sha1Sum([]byte("abc")); return s[:] }()), "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{hex.EncodeToString(func() []byte { s := sha256Sum([]byte("abc")); return s[:] }()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{hex.EncodeToString(func() []byte { s := sha512Sum([]byte("ab"), []byte("c")); return s[:] }()),
			"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
		{hex.EncodeToString(func() []byte { s := hmacSHA256(bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There")); return s[:] }()),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestRandom(t *testing.T) {
	a, b := make([]byte, 32), make([]byte, 32)
	if err := random(a); err != nil {
		t.Fatal(err)
	}
	if err := Random(b); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 32)) {
		t.Errorf("random bytes repeat or are zero: %x %x", a, b)
	}
	c := make([]byte, 32)
	if err := urandom(c); err != nil || bytes.Equal(c, a) {
		t.Errorf("urandom: %v %x", err, c)
	}
}

// FuzzAgainstCrypto holds the own hashes, HMAC and PBKDF2 to the crypto
// packages on any input.
func FuzzAgainstCrypto(f *testing.F) {
	f.Add([]byte(""), []byte(""), uint8(1), uint8(64))
	f.Add([]byte("password"), []byte("saltsaltsalt"), uint8(3), uint8(64))
	f.Add(bytes.Repeat([]byte("k"), 200), []byte("message"), uint8(2), uint8(129))
	f.Fuzz(func(t *testing.T, a, b []byte, iter, keyLen uint8) {
		checkAgainstCrypto(t, a, b, int(iter%8), int(keyLen))
	})
}
