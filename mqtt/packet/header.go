package packet

import "io"

// ReadFixedHeader reads a packet's first byte and its Remaining Length from r.
// The Remaining Length is a Variable Byte Integer of at most 4 bytes; a 4th byte with the continuation
// bit set is an *Error with Code MalformedPacket (5.0 §1.5.5, 3.1.1 §2.2.3). A non-minimal encoding
// (e.g. 0x80 0x00 for 0) is accepted, as the 3.1.1 decoding algorithm does.
// I/O errors pass through unchanged, except that an io.EOF after the first byte becomes
// io.ErrUnexpectedEOF; io.EOF before the first byte means the stream ended cleanly between packets.
// ReadFixedHeader does not check the flags or the type: Decode does.
func ReadFixedHeader(r io.ByteReader) (FixedHeader, error) {
	b, err := r.ReadByte()
	if err != nil {
		return FixedHeader{}, err
	}
	rem := 0
	for i := 0; i < 4; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return FixedHeader{}, err
		}
		rem |= int(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return FixedHeader{Type: Type(b >> 4), Flags: b & 0x0f, Remaining: rem}, nil
		}
	}
	return FixedHeader{}, decodeError(MalformedPacket, "remaining length longer than 4 bytes [MQTT-1.5.5]")
}

// varintSize returns the number of bytes of the Variable Byte Integer encoding of v (v <= MaxRemaining).
func varintSize(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

// appendVarint appends the minimal Variable Byte Integer encoding of v.
func appendVarint(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendFixedHeader appends the first byte and the Remaining Length. It panics when remaining exceeds
// MaxRemaining: that is a caller bug (decoded packets never do), not bad input.
func appendFixedHeader(dst []byte, first byte, remaining int) []byte {
	if remaining > MaxRemaining || remaining < 0 {
		panic("packet: encoded packet exceeds MaxRemaining")
	}
	return appendVarint(append(dst, first), remaining)
}

// packetSize is the size on the wire of a packet whose Remaining Length is remaining.
func packetSize(remaining int) int { return 1 + varintSize(remaining) + remaining }
