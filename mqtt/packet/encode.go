package packet

// Append encodes p for protocol level version (V5 = 5.0, anything else = 3.1.1) onto dst and returns the
// extended slice. It allocates nothing when dst has enough capacity.
//
// For 3.1.1 it leaves out all properties and uses the 3.1.1 forms: PUBACK/PUBREC/PUBREL/PUBCOMP and
// UNSUBACK are a bare packet identifier, SUBACK return codes are 0x00-0x02 or 0x80, DISCONNECT is empty,
// subscription options carry only the QoS. For 5.0 it uses the short forms the specification allows:
// an acknowledgement with Success and no properties has a 2-byte body, a DISCONNECT or AUTH with Success
// and no properties an empty one. Only the properties the packet type allows are written. For CONNECT the
// layout follows the level written, see Connect: Connect.ProtocolLevel, or version when that is 0.
//
// Append does not validate p beyond that: it is the caller's job to fill in valid values (QoS 0-2, a
// non-zero packet identifier, ...). It panics on a programming error that cannot be encoded at all: a
// string or binary field over 65535 bytes or a packet over MaxRemaining. A Packet filled in by Decode
// always encodes. An AUTH for 3.1.1 or a reserved type writes nothing.
func (p *Packet) Append(dst []byte, version byte) []byte {
	v5 := version == V5
	switch p.Type {
	case CONNECT:
		return p.appendConnect(dst, version)
	case CONNACK:
		return p.appendConnack(dst, v5)
	case PUBLISH:
		dst = AppendPublishHeader(dst, version, p.Dup, p.QoS, p.Retain, p.Topic, p.PacketID, &p.Props, len(p.Payload))
		return append(dst, p.Payload...)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return p.appendAck(dst, v5)
	case SUBSCRIBE:
		return p.appendSubscribe(dst, v5)
	case SUBACK:
		return p.appendSuback(dst, v5, subackProps)
	case UNSUBSCRIBE:
		return p.appendUnsubscribe(dst, v5)
	case UNSUBACK:
		return p.appendSuback(dst, v5, unsubackProps)
	case PINGREQ, PINGRESP:
		return append(dst, byte(p.Type)<<4, 0)
	case DISCONNECT:
		return p.appendOptionalReason(dst, v5, disconnectProps)
	case AUTH:
		if v5 {
			return p.appendOptionalReason(dst, v5, authProps)
		}
	}
	return dst
}

// Size returns the number of bytes Append(nil, version) would write, fixed header included; use it for
// Maximum Packet Size checks. It is 0 when Append would write nothing.
func (p *Packet) Size(version byte) int {
	v5 := version == V5
	var n int
	switch p.Type {
	case CONNECT:
		n, _, _ = p.connectLen(version)
	case CONNACK:
		n, _ = p.connackLen(v5)
	case PUBLISH:
		n, _ = publishLen(v5, p.Topic, p.QoS, &p.Props, len(p.Payload))
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		n, _ = p.ackLen(v5)
	case SUBSCRIBE:
		n, _ = p.subscribeLen(v5)
	case SUBACK:
		n, _ = p.subackLen(v5, subackProps)
	case UNSUBSCRIBE:
		n, _ = p.unsubscribeLen(v5)
	case UNSUBACK:
		n, _ = p.subackLen(v5, unsubackProps)
	case PINGREQ, PINGRESP:
	case DISCONNECT:
		n, _ = p.optionalReasonLen(v5, disconnectProps)
	case AUTH:
		if !v5 {
			return 0
		}
		n, _ = p.optionalReasonLen(v5, authProps)
	default:
		return 0
	}
	return packetSize(n)
}
