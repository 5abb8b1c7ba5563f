package mqtt

import (
	"errors"
	"time"

	"gatemq/mqtt/packet"
)

// msgProps is the MQTT 5.0 metadata of a message that the broker forwards
// untouched [MQTT-3.3.2-16..20]: all byte slices point into one buffer owned
// by the message.
type msgProps struct {
	payloadFormat    byte
	hasPayloadFormat bool
	contentType      []byte
	responseTopic    []byte
	correlationData  []byte
	user             packet.UserProperties
}

// setMessageProps copies the forwarded 5.0 properties of a PUBLISH (or a
// will) into m, and sets m's expiry from its Message Expiry Interval. It
// allocates only when there is something to keep.
func setMessageProps(m *Message, p *packet.Properties, now time.Time) {
	if p.HasMessageExpiry {
		m.ExpiresAt = now.Add(time.Duration(p.MessageExpiry) * time.Second)
	}
	// The user properties are kept in their wire form (5 bytes for an
	// empty one, as sent), in the same one allocation as the rest.
	n := len(p.ContentType) + len(p.ResponseTopic) + len(p.CorrelationData) + p.User.WireSize()
	if n == 0 && !p.HasPayloadFormat && p.ContentType == nil && p.ResponseTopic == nil && p.CorrelationData == nil {
		return
	}
	buf := make([]byte, 0, n)
	keep := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	mp := &msgProps{payloadFormat: p.PayloadFormat, hasPayloadFormat: p.HasPayloadFormat}
	mp.contentType = keep(p.ContentType)
	mp.responseTopic = keep(p.ResponseTopic)
	mp.correlationData = keep(p.CorrelationData)
	buf, mp.user = p.User.AppendClone(buf)
	m.props = mp
}

// keepMessageProps is setMessageProps for a message that owns the packet
// the properties were decoded from (see client.inboundMessage): they stay
// views of it, and only User Properties that are not one run of bytes are
// copied, so that writers send them from the message.
func keepMessageProps(m *Message, p *packet.Properties, now time.Time) {
	if p.HasMessageExpiry {
		m.ExpiresAt = now.Add(time.Duration(p.MessageExpiry) * time.Second)
	}
	if !p.HasPayloadFormat && p.User.Len() == 0 && p.ContentType == nil && p.ResponseTopic == nil && p.CorrelationData == nil {
		return
	}
	m.props = &msgProps{payloadFormat: p.PayloadFormat, hasPayloadFormat: p.HasPayloadFormat,
		contentType: p.ContentType, responseTopic: p.ResponseTopic, correlationData: p.CorrelationData, user: p.User.Compact()}
}

// outProps fills dst with the properties of one outgoing 5.0 PUBLISH of m:
// the forwarded metadata, the remaining expiry interval, the subscription
// identifier and a topic alias (0: none). It reports false when the message
// has expired and must not be sent.
func outProps(dst *packet.Properties, m *Message, subIDs []uint32, alias uint16, now time.Time) bool {
	dst.Reset()
	if !m.ExpiresAt.IsZero() {
		left := m.ExpiresAt.Sub(now)
		if left <= 0 {
			return false
		}
		// The receiver gets what is left, rounded up so it is never 0 [MQTT-3.3.2-6].
		dst.MessageExpiry, dst.HasMessageExpiry = uint32((left+time.Second-1)/time.Second), true
	}
	if mp := m.props; mp != nil {
		dst.PayloadFormat, dst.HasPayloadFormat = mp.payloadFormat, mp.hasPayloadFormat
		dst.ContentType = mp.contentType
		dst.ResponseTopic = mp.responseTopic
		dst.CorrelationData = mp.correlationData
		dst.User = mp.user // a view of the message's own copy
	}
	for _, id := range subIDs {
		if id != 0 {
			dst.SubscriptionIDs = append(dst.SubscriptionIDs, id)
		}
	}
	if alias != 0 {
		dst.TopicAlias, dst.HasTopicAlias = alias, true
	}
	return true
}

// expiredBy reports whether m's Message Expiry Interval has passed at the
// time of a writer's pass, which it reads only for a message that expires.
func (m *Message) expiredBy(clk *passClock) bool {
	return !m.ExpiresAt.IsZero() && !clk.now().Before(m.ExpiresAt)
}

// encodeStoredProps encodes m's 5.0 metadata for the store, as the property
// block of a PUBLISH (nil when there is none).
func encodeStoredProps(m *Message) []byte {
	if m.props == nil {
		return nil
	}
	var p packet.Properties
	outProps(&p, &Message{props: m.props}, nil, 0, time.Time{})
	return packet.AppendPublishHeader(nil, packet.V5, false, 0, false, []byte("p"), 0, &p, 0)
}

// decodeStoredProps restores m's 5.0 metadata written by encodeStoredProps.
func decodeStoredProps(m *Message, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var fh packet.FixedHeader
	r := byteReader{b: b}
	fh, err := packet.ReadFixedHeader(&r)
	if err != nil {
		return err
	}
	var p packet.Packet
	if err := packet.Decode(fh, b[r.i:], packet.V5, &p); err != nil {
		return err
	}
	expires := m.ExpiresAt
	setMessageProps(m, &p.Props, time.Time{})
	m.ExpiresAt = expires
	return nil
}

// errShortProps reports stored properties cut short.
var errShortProps = errors.New("mqtt: stored message properties are cut short")

// byteReader is an io.ByteReader over a slice.
type byteReader struct {
	b []byte
	i int
}

// ReadByte returns the next byte, or an error at the end.
func (r *byteReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errShortProps
	}
	r.i++
	return r.b[r.i-1], nil
}
