package packet

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// decoder walks one packet body. Errors are sticky: the first failure is kept in err, the rest of the
// body is consumed, and later reads return zero values, so decode functions check err only where a value
// steers what is read next. Messages are built only on failure, so successful decoding allocates nothing.
type decoder struct {
	b   []byte
	off int
	t   Type // packet type, prefixed to error messages
	v5  bool
	err *Error
}

// fail records the first error (its message prefixed with the packet type) and consumes the body.
// field names passed around are constants, so message building happens only here, on failure.
func (d *decoder) fail(code ReasonCode, msg string) {
	if d.err == nil {
		d.err = decodeError(code, d.t.String()+": "+msg)
	}
	d.off = len(d.b)
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) truncated(field string) { d.fail(MalformedPacket, field+": truncated") }

func (d *decoder) u8(field string) byte {
	if d.off >= len(d.b) {
		d.truncated(field)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) u16(field string) uint16 {
	if d.left() < 2 {
		d.truncated(field)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32(field string) uint32 {
	if d.left() < 4 {
		d.truncated(field)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// varint reads a Variable Byte Integer of at most 4 bytes that must be minimally encoded [MQTT-1.5.5-1].
func (d *decoder) varint(field string) int {
	v := 0
	for i := 0; i < 4; i++ {
		if d.off >= len(d.b) {
			d.truncated(field)
			return 0
		}
		c := d.b[d.off]
		d.off++
		v |= int(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				d.fail(MalformedPacket, field+": variable byte integer not minimally encoded [MQTT-1.5.5-1]")
				return 0
			}
			return v
		}
	}
	d.fail(MalformedPacket, field+": variable byte integer longer than 4 bytes [MQTT-1.5.5]")
	return 0
}

// binary reads Binary Data: a Two Byte Integer length and that many bytes. The result is a view into the
// body and is non-nil even when empty, so presence stays visible.
func (d *decoder) binary(field string) []byte {
	n := int(d.u16(field))
	if d.err != nil {
		return nil
	}
	if d.left() < n {
		d.truncated(field)
		return nil
	}
	b := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// utf8 reads a UTF-8 Encoded String and checks it [MQTT-1.5.4-1] [MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-1]
// [MQTT-1.5.3-2]).
func (d *decoder) utf8(field string) []byte {
	b := d.binary(field)
	if d.err == nil && !ValidUTF8String(b) {
		d.badUTF8(field, b)
		return nil
	}
	return b
}

// badUTF8 fails with the statement that b breaks: U+0000 [MQTT-1.5.4-2] or ill-formed UTF-8 [MQTT-1.5.4-1]
// (3.1.1: [MQTT-1.5.3-2], [MQTT-1.5.3-1]).
func (d *decoder) badUTF8(field string, b []byte) {
	if bytes.IndexByte(b, 0) >= 0 {
		d.fail(MalformedPacket, field+": contains U+0000 "+d.spec("[MQTT-1.5.3-2]", "[MQTT-1.5.4-2]"))
		return
	}
	d.fail(MalformedPacket, field+": not well-formed UTF-8 "+d.spec("[MQTT-1.5.3-1]", "[MQTT-1.5.4-1]"))
}

// topicName reads a Topic Name and checks it: valid UTF-8 without U+0000 and without wildcards.
// Emptiness is checked by the caller (5.0 allows an empty name with a Topic Alias).
func (d *decoder) topicName(field string) []byte {
	b := d.binary(field)
	if d.err != nil {
		return nil
	}
	switch topicNameCheck(b) {
	case topicBadUTF8:
		d.badUTF8(field, b)
		return nil
	case topicWildcard:
		d.fail(TopicNameInvalid, field+": topic name contains a wildcard [MQTT-3.3.2-2]")
		return nil
	}
	return b
}

// spec picks the conformance statement of the decoder's protocol version.
func (d *decoder) spec(v311, v5 string) string {
	if d.v5 {
		return v5
	}
	return v311
}

const (
	topicOK = iota
	topicBadUTF8
	topicWildcard
)

// byteClass classifies bytes for the string checks: 1 = U+0000, 2 = a wildcard, 3 = not ASCII.
var byteClass = func() (t [256]uint8) {
	t[0], t['+'], t['#'] = 1, 2, 2
	for c := 0x80; c < 256; c++ {
		t[c] = 3
	}
	return t
}()

// topicNameCheck validates a topic name in one pass over its bytes, falling back to utf8.Valid only for
// non-ASCII names.
func topicNameCheck(b []byte) int {
	ascii := true
	for _, c := range b {
		switch byteClass[c] {
		case 0:
		case 1:
			return topicBadUTF8
		case 2:
			return topicWildcard
		default:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(b) {
		return topicBadUTF8
	}
	return topicOK
}

// ValidUTF8String reports whether b may be the content of an MQTT UTF-8 Encoded String: well-formed
// UTF-8 (no overlong forms, no surrogates U+D800..U+DFFF [MQTT-1.5.4-1]) without U+0000 [MQTT-1.5.4-2].
// It does not reject the control characters and non-characters the specification only discourages.
// It does not check the 65535-byte length limit.
func ValidUTF8String(b []byte) bool {
	ascii := true
	for _, c := range b {
		switch byteClass[c] {
		case 1:
			return false
		case 3:
			ascii = false
		}
	}
	return ascii || utf8.Valid(b)
}

// ValidTopicName reports whether b is a valid Topic Name: 1 to 65535 bytes [MQTT-4.7.3-1], a valid UTF-8
// string (see ValidUTF8String) without the wildcards '+' and '#' [MQTT-4.7.1-1].
func ValidTopicName(b []byte) bool {
	return len(b) > 0 && len(b) <= 65535 && topicNameCheck(b) == topicOK
}

// appendUint16 appends a Two Byte Integer.
func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

// appendUint32 appends a Four Byte Integer.
func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendBinary appends a Two Byte Integer length and b (a UTF-8 string or Binary Data). It panics when b
// is longer than 65535 bytes: that is a caller bug, decoded fields never are.
func appendBinary(dst []byte, b []byte) []byte {
	if len(b) > 65535 {
		panic("packet: string or binary field longer than 65535 bytes")
	}
	return append(appendUint16(dst, uint16(len(b))), b...)
}
