package packet

import (
	"bytes"
	"encoding/binary"
	"iter"
)

// UserProperty is one MQTT 5.0 User Property (a UTF-8 string pair), as UserPropertiesOf takes it and
// UserProperties.Slice returns it.
type UserProperty struct {
	Key, Value []byte
}

// UserProperties is the ordered list of the User Properties (0x26) of one packet or Will, kept in their
// wire form: each is the identifier byte 0x26, then the name and the value as UTF-8 Encoded Strings.
// The zero value is the empty list.
//
// The wire form is what makes hostile input cheap: a decoded list is a view into the packet body (one
// 40-byte value, whatever the number of properties; a list of empty properties costs 5 bytes each, as
// on the wire), and a list kept beyond the packet (Clone) is one allocation of exactly its wire size,
// which the encoder writes back as it is. The order of the properties is kept [MQTT-3.3.2-18].
//
// A decoded list may view other properties that were sent between two User Properties; they are
// skipped when iterating, and left out by Clone and by the encoder. Key and value slices returned by
// All and Slice are views into the list's bytes: as valid as the list itself (for a decoded one, as the
// packet body).
type UserProperties struct {
	raw  []byte // wire bytes, from the first User Property to the end of the last
	n    int    // number of User Properties in raw
	size int    // wire bytes of the User Properties alone; == len(raw) when raw holds nothing else
}

// UserPropertiesOf returns a list of ps in this order, in one allocation. It panics if a name or value
// is longer than 65535 bytes.
func UserPropertiesOf(ps ...UserProperty) UserProperties {
	size := 0
	for _, p := range ps {
		size += userPropSize(p.Key, p.Value)
	}
	if size == 0 {
		return UserProperties{}
	}
	raw := make([]byte, 0, size)
	for _, p := range ps {
		raw = appendUserProp(raw, p.Key, p.Value)
	}
	return UserProperties{raw: raw, n: len(ps), size: size}
}

// userPropSize is the wire size of one User Property.
func userPropSize(key, value []byte) int { return 1 + 2 + len(key) + 2 + len(value) }

// appendUserProp appends one User Property in its wire form.
func appendUserProp(dst, key, value []byte) []byte {
	return appendBinary(appendBinary(append(dst, propUser), key), value)
}

// Len returns the number of User Properties.
func (u UserProperties) Len() int { return u.n }

// WireSize returns the bytes the User Properties take on the wire.
func (u UserProperties) WireSize() int { return u.size }

// All returns an iterator over the name/value pairs in order. It allocates nothing.
func (u UserProperties) All() iter.Seq2[[]byte, []byte] {
	return func(yield func(key, value []byte) bool) {
		for off := 0; off < len(u.raw); {
			start, end, next := nextUserProp(u.raw, off)
			if start < 0 {
				return
			}
			off = next
			k, v := splitUserProp(u.raw[start:end])
			if !yield(k, v) {
				return
			}
		}
	}
}

// Slice returns the pairs in order as a new slice (nil for an empty list); the names and values are
// views into u.
func (u UserProperties) Slice() []UserProperty {
	if u.n == 0 {
		return nil
	}
	out := make([]UserProperty, 0, u.n)
	for k, v := range u.All() {
		out = append(out, UserProperty{Key: k, Value: v})
	}
	return out
}

// Clone returns a copy of u that owns its bytes: one allocation of exactly WireSize bytes (none when u
// is empty), holding only the User Properties.
func (u UserProperties) Clone() UserProperties {
	if u.n == 0 {
		return UserProperties{}
	}
	raw := u.appendWire(make([]byte, 0, u.size))
	return UserProperties{raw: raw, n: u.n, size: u.size}
}

// AppendClone appends u's wire bytes (its User Properties only) to dst and returns the extended dst and
// a list that views the appended bytes: Clone into a buffer the caller shares with other fields (with
// WireSize bytes of room in dst, no allocation).
func (u UserProperties) AppendClone(dst []byte) ([]byte, UserProperties) {
	if u.n == 0 {
		return dst, UserProperties{}
	}
	start := len(dst)
	dst = u.appendWire(dst)
	return dst, UserProperties{raw: dst[start:len(dst):len(dst)], n: u.n, size: u.size}
}

// Compact returns u when its User Properties are one run of bytes (always, except for a decoded list
// with other properties between them), else u.Clone(): a list a writer can send as it is (see
// AppendPublishHeaderSplit).
func (u UserProperties) Compact() UserProperties {
	if len(u.raw) == u.size {
		return u
	}
	return u.Clone()
}

// Add appends one property to the list. The list is copied first (never written in place, so a
// decoded list never writes into its packet body and copies of u are not disturbed): build long lists
// with UserPropertiesOf instead. It panics if key or value is longer than 65535 bytes.
func (u *UserProperties) Add(key, value []byte) {
	c := u.Clone()
	raw := make([]byte, 0, c.size+userPropSize(key, value))
	raw = appendUserProp(append(raw, c.raw...), key, value)
	*u = UserProperties{raw: raw, n: c.n + 1, size: len(raw)}
}

// Equal reports whether u and v hold the same pairs in the same order.
func (u UserProperties) Equal(v UserProperties) bool {
	if u.n != v.n || u.size != v.size {
		return false
	}
	for ou, ov := 0, 0; ; {
		su, eu, nu := nextUserProp(u.raw, ou)
		sv, ev, nv := nextUserProp(v.raw, ov)
		if su < 0 || sv < 0 {
			return su < 0 && sv < 0
		}
		if !bytes.Equal(u.raw[su:eu], v.raw[sv:ev]) {
			return false
		}
		ou, ov = nu, nv
	}
}

// appendWire appends the User Properties' wire bytes (the other properties a decoded list may view
// left out).
func (u UserProperties) appendWire(dst []byte) []byte {
	if len(u.raw) == u.size {
		return append(dst, u.raw...)
	}
	for off := 0; off < len(u.raw); {
		start, end, next := nextUserProp(u.raw, off)
		if start < 0 {
			break
		}
		dst = append(dst, u.raw[start:end]...)
		off = next
	}
	return dst
}

// compactWire returns the wire bytes of the User Properties when they are stored as one run (always,
// except for a decoded list with other properties between them), else nil.
func (u UserProperties) compactWire() []byte {
	if u.n == 0 || len(u.raw) != u.size {
		return nil
	}
	return u.raw
}

// nextUserProp finds the next User Property at or after off in b, a run of well-formed properties: it
// returns its bounds and the offset after it, or start -1 when there is none (or b is not well formed,
// which a list built by Decode, UserPropertiesOf or Add never is).
func nextUserProp(b []byte, off int) (start, end, next int) {
	for off < len(b) {
		n := propWireLen(b[off:])
		if n < 0 {
			return -1, -1, len(b)
		}
		if b[off] == propUser {
			return off, off + n, off + n
		}
		off += n
	}
	return -1, -1, len(b)
}

// splitUserProp returns the name and value of one User Property in wire form.
func splitUserProp(p []byte) (key, value []byte) {
	kn := int(binary.BigEndian.Uint16(p[1:]))
	key = p[3 : 3+kn : 3+kn]
	value = p[3+kn+2:]
	return key, value[:len(value):len(value)]
}

// propWireLen returns the length of the property that starts b (identifier included), or -1 when the
// identifier is unknown or b is too short.
func propWireLen(b []byte) int {
	var n int
	switch b[0] {
	case propPayloadFormat, propRequestProblemInfo, propRequestResponseInfo, propMaximumQoS,
		propRetainAvailable, propWildcardSubAvailable, propSubIDAvailable, propSharedSubAvailable:
		n = 2
	case propServerKeepAlive, propReceiveMaximum, propTopicAliasMaximum, propTopicAlias:
		n = 3
	case propMessageExpiry, propSessionExpiry, propWillDelay, propMaximumPacketSize:
		n = 5
	case propSubscriptionID:
		n = 2
		for n <= len(b) && n < 5 && b[n-1]&0x80 != 0 {
			n++
		}
	case propContentType, propResponseTopic, propCorrelationData, propAssignedClientID, propAuthMethod,
		propAuthData, propResponseInfo, propServerReference, propReasonString:
		if len(b) < 3 {
			return -1
		}
		n = 3 + int(binary.BigEndian.Uint16(b[1:]))
	case propUser:
		if len(b) < 3 {
			return -1
		}
		k := 3 + int(binary.BigEndian.Uint16(b[1:]))
		if len(b) < k+2 {
			return -1
		}
		n = k + 2 + int(binary.BigEndian.Uint16(b[k:]))
	default:
		return -1
	}
	if n > len(b) {
		return -1
	}
	return n
}

// countProps counts the properties with identifier id in b, a run of properties; it stops at the first
// one it cannot measure (the decoder reports that one).
func countProps(b []byte, id byte) int {
	c := 0
	for len(b) > 0 {
		n := propWireLen(b)
		if n < 0 {
			break
		}
		if b[0] == id {
			c++
		}
		b = b[n:]
	}
	return c
}
