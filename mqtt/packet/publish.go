package packet

// PUBLISH fixed-header flag bits.
const (
	pubRetain   = 0x01
	pubQoSShift = 1
	pubDup      = 0x08
)

// publish decodes a PUBLISH: flags, Topic Name, Packet Identifier (QoS > 0), properties (5.0), payload.
func (d *decoder) publish(fh FixedHeader, p *Packet) {
	p.QoS = fh.Flags >> pubQoSShift & 3
	p.Dup = fh.Flags&pubDup != 0
	p.Retain = fh.Flags&pubRetain != 0
	if p.QoS == 3 {
		d.fail(MalformedPacket, "QoS 3 [MQTT-3.3.1-4]")
		return
	}
	if p.Dup && p.QoS == 0 {
		d.fail(MalformedPacket, "DUP set on a QoS 0 message [MQTT-3.3.1-2]")
		return
	}
	p.Topic = d.topicName("topic name") // [MQTT-3.3.2-1] [MQTT-3.3.2-2]
	if p.QoS > 0 {
		p.PacketID = d.packetID()
	}
	if d.v5 {
		d.props(&p.Props, publishProps)
	}
	if d.err != nil {
		return
	}
	if len(p.Topic) == 0 {
		if !d.v5 {
			d.fail(TopicNameInvalid, "empty topic name [MQTT-4.7.3-1]")
			return
		}
		if !p.Props.HasTopicAlias {
			d.fail(ProtocolError, "empty topic name without a topic alias [3.3.2.1]")
			return
		}
	}
	p.Payload = d.b[d.off:len(d.b):len(d.b)]
	d.off = len(d.b)
}

// publishLen returns the Remaining Length of a PUBLISH and the size of its properties.
func publishLen(v5 bool, topic []byte, qos byte, props *Properties, payloadLen int) (n, propsLen int) {
	n = 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	if v5 {
		if props != nil {
			propsLen = props.size(publishProps)
		}
		n += varintSize(propsLen) + propsLen
	}
	return n, propsLen
}

// PublishSize returns the size on the wire, fixed header included, of a PUBLISH with these fields and
// a payload of payloadLen bytes, as AppendPublishHeader would encode it. Compare it with a peer's
// Maximum Packet Size. props may be nil.
func PublishSize(version byte, topic []byte, qos byte, props *Properties, payloadLen int) int {
	n, _ := publishLen(version == V5, topic, qos, props, payloadLen)
	return packetSize(n)
}

// AppendPublishHeader appends the fixed header and variable header of a PUBLISH (topic, packet identifier
// when qos > 0, properties for V5) for a payload of payloadLen bytes, so that a payload shared between
// subscribers can be written after it without re-encoding. DUP is written only when qos > 0
// [MQTT-3.3.1-2]. props may be nil; only the properties a PUBLISH may carry are written. It allocates
// nothing when dst has room. It panics if topic is longer than 65535 bytes or the packet would exceed
// MaxRemaining (callers check sizes first; decoded packets never do).
func AppendPublishHeader(dst []byte, version byte, dup bool, qos byte, retain bool, topic []byte, id uint16, props *Properties, payloadLen int) []byte {
	dst, _ = appendPublishHeader(dst, version, dup, qos, retain, topic, id, props, payloadLen, false)
	return dst
}

// AppendPublishHeaderSplit is AppendPublishHeader for a writer that writes the User Properties from
// where they are kept rather than copying them: it appends the header up to the User Properties (the
// last properties of a PUBLISH) and returns their bytes, props.User's own, to be written after dst and
// before the payload. A broker forwarding one message with many User Properties to many subscribers so
// writes them from the message's one copy. user is nil when there are none, or when props.User is not
// one run of bytes (a decoded list with other properties between them), which is then written into dst.
// The returned user stays valid as long as props.User's bytes do.
func AppendPublishHeaderSplit(dst []byte, version byte, dup bool, qos byte, retain bool, topic []byte, id uint16, props *Properties, payloadLen int) (head, user []byte) {
	return appendPublishHeader(dst, version, dup, qos, retain, topic, id, props, payloadLen, true)
}

// appendPublishHeader is AppendPublishHeader, and AppendPublishHeaderSplit when split is set.
func appendPublishHeader(dst []byte, version byte, dup bool, qos byte, retain bool, topic []byte, id uint16, props *Properties, payloadLen int, split bool) (head, user []byte) {
	v5 := version == V5
	n, propsLen := publishLen(v5, topic, qos, props, payloadLen)
	first := byte(PUBLISH)<<4 | (qos&3)<<pubQoSShift
	if dup && qos > 0 {
		first |= pubDup
	}
	if retain {
		first |= pubRetain
	}
	dst = appendFixedHeader(dst, first, n)
	dst = appendBinary(dst, topic)
	if qos > 0 {
		dst = appendUint16(dst, id)
	}
	if v5 {
		if props == nil {
			return append(dst, 0), nil
		}
		allowed := publishProps
		if split {
			if user = props.User.compactWire(); user != nil {
				allowed &^= 1 << propUser // counted in propsLen, written by the caller
			}
		}
		dst = props.appendProps(dst, allowed, propsLen)
	}
	return dst, user
}
