package digest

import (
	"encoding/binary"
	"math/bits"
)

// The SHA-1, SHA-256 and SHA-512 of FIPS 180-4, for the -tags nossl build
// (see the package comment). They share one Merkle-Damgard frame, md:
// blocks of 64 bytes with a 64-bit length (SHA-1, SHA-256) or of 128
// bytes with a 128-bit one (SHA-512), and a state of 32- or 64-bit words
// held in the low bits of [8]uint64.

// md is a hash being computed. Its zero value is not usable: start with
// newSHA1, newSHA256 or newSHA512.
type md struct {
	h        [8]uint64
	buf      [128]byte
	nbuf     int    // bytes of buf in use
	n        uint64 // bytes written
	block    int    // block size: 64 or 128
	word     int    // state word size: 4 or 8
	out      int    // digest words
	compress func(h *[8]uint64, p []byte)
}

func newSHA1() md {
	return md{h: [8]uint64{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0},
		block: 64, word: 4, out: 5, compress: sha1Blocks}
}

func newSHA256() md {
	return md{h: [8]uint64{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19},
		block: 64, word: 4, out: 8, compress: sha256Blocks}
}

func newSHA512() md {
	return md{h: [8]uint64{0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
		0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179},
		block: 128, word: 8, out: 8, compress: sha512Blocks}
}

// write adds p to the message.
func (d *md) write(p []byte) {
	d.n += uint64(len(p))
	if d.nbuf > 0 {
		k := copy(d.buf[d.nbuf:d.block], p)
		d.nbuf += k
		p = p[k:]
		if d.nbuf < d.block {
			return
		}
		d.compress(&d.h, d.buf[:d.block])
		d.nbuf = 0
	}
	if whole := len(p) - len(p)%d.block; whole > 0 {
		d.compress(&d.h, p[:whole])
		p = p[whole:]
	}
	d.nbuf = copy(d.buf[:], p)
}

// sum appends the digest of what was written to b; d is left as it was.
func (d md) sum(b []byte) []byte {
	n := d.n
	var pad [256]byte
	pad[0] = 0x80
	lenField := d.block / 8 // 8 or 16 bytes of length
	k := d.block - int(n%uint64(d.block))
	if k < 1+lenField {
		k += d.block
	}
	binary.BigEndian.PutUint64(pad[k-8:], n<<3)
	if lenField == 16 {
		binary.BigEndian.PutUint64(pad[k-16:], n>>61)
	}
	d.write(pad[:k])
	for _, w := range d.h[:d.out] {
		if d.word == 4 {
			b = binary.BigEndian.AppendUint32(b, uint32(w))
		} else {
			b = binary.BigEndian.AppendUint64(b, w)
		}
	}
	return b
}

func sha1Sum(b []byte) (out [20]byte) {
	d := newSHA1()
	d.write(b)
	d.sum(out[:0])
	return
}

func sha256Sum(b []byte) (out [32]byte) {
	d := newSHA256()
	d.write(b)
	d.sum(out[:0])
	return
}

func sha512Sum(a, b []byte) (out [SHA512Size]byte) {
	d := newSHA512()
	d.write(a)
	d.write(b)
	d.sum(out[:0])
	return
}

// sha1Blocks compresses the 64-byte blocks of p into h.
func sha1Blocks(h *[8]uint64, p []byte) {
	var w [80]uint32
	for ; len(p) >= 64; p = p[64:] {
		for i := 0; i < 16; i++ {
			w[i] = binary.BigEndian.Uint32(p[4*i:])
		}
		for i := 16; i < 80; i++ {
			w[i] = bits.RotateLeft32(w[i-3]^w[i-8]^w[i-14]^w[i-16], 1)
		}
		a, b, c, d, e := uint32(h[0]), uint32(h[1]), uint32(h[2]), uint32(h[3]), uint32(h[4])
		for i := 0; i < 80; i++ {
			var f, k uint32
			switch {
			case i < 20:
				f, k = b&c|^b&d, 0x5a827999
			case i < 40:
				f, k = b^c^d, 0x6ed9eba1
			case i < 60:
				f, k = b&c|b&d|c&d, 0x8f1bbcdc
			default:
				f, k = b^c^d, 0xca62c1d6
			}
			a, b, c, d, e = bits.RotateLeft32(a, 5)+f+e+k+w[i], a, bits.RotateLeft32(b, 30), c, d
		}
		h[0] = uint64(uint32(h[0]) + a)
		h[1] = uint64(uint32(h[1]) + b)
		h[2] = uint64(uint32(h[2]) + c)
		h[3] = uint64(uint32(h[3]) + d)
		h[4] = uint64(uint32(h[4]) + e)
	}
}

// sha256Blocks compresses the 64-byte blocks of p into h. SHA-256's round
// constants are the high 32 bits of SHA-512's first 64.
func sha256Blocks(h *[8]uint64, p []byte) {
	var w [64]uint32
	for ; len(p) >= 64; p = p[64:] {
		for i := 0; i < 16; i++ {
			w[i] = binary.BigEndian.Uint32(p[4*i:])
		}
		for i := 16; i < 64; i++ {
			v1, v2 := w[i-2], w[i-15]
			s1 := bits.RotateLeft32(v1, -17) ^ bits.RotateLeft32(v1, -19) ^ v1>>10
			s0 := bits.RotateLeft32(v2, -7) ^ bits.RotateLeft32(v2, -18) ^ v2>>3
			w[i] = s1 + w[i-7] + s0 + w[i-16]
		}
		var v [8]uint32
		for i := range v {
			v[i] = uint32(h[i])
		}
		a, b, c, d, e, f, g, hh := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		for i := 0; i < 64; i++ {
			t1 := hh + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
				(e&f ^ ^e&g) + uint32(sha512K[i]>>32) + w[i]
			t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) + (a&b ^ a&c ^ b&c)
			hh, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		}
		for i, x := range [8]uint32{a, b, c, d, e, f, g, hh} {
			h[i] = uint64(v[i] + x)
		}
	}
}

// sha512Blocks compresses the 128-byte blocks of p into h.
func sha512Blocks(h *[8]uint64, p []byte) {
	var w [80]uint64
	for ; len(p) >= 128; p = p[128:] {
		for i := 0; i < 16; i++ {
			w[i] = binary.BigEndian.Uint64(p[8*i:])
		}
		for i := 16; i < 80; i++ {
			v1, v2 := w[i-2], w[i-15]
			s1 := bits.RotateLeft64(v1, -19) ^ bits.RotateLeft64(v1, -61) ^ v1>>6
			s0 := bits.RotateLeft64(v2, -1) ^ bits.RotateLeft64(v2, -8) ^ v2>>7
			w[i] = s1 + w[i-7] + s0 + w[i-16]
		}
		a, b, c, d, e, f, g, hh := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
		for i := 0; i < 80; i++ {
			t1 := hh + (bits.RotateLeft64(e, -14) ^ bits.RotateLeft64(e, -18) ^ bits.RotateLeft64(e, -41)) +
				(e&f ^ ^e&g) + sha512K[i] + w[i]
			t2 := (bits.RotateLeft64(a, -28) ^ bits.RotateLeft64(a, -34) ^ bits.RotateLeft64(a, -39)) + (a&b ^ a&c ^ b&c)
			hh, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
		}
		for i, x := range [8]uint64{a, b, c, d, e, f, g, hh} {
			h[i] += x
		}
	}
}

// sha512K are SHA-512's round constants (FIPS 180-4, 4.2.3).
var sha512K = [80]uint64{
	0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
	0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
	0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
	0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
	0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
	0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
	0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
	0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
	0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
	0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
	0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
	0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
	0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
	0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
	0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
	0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
	0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
	0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
	0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
	0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
}
