package packet

// ack decodes PUBACK, PUBREC, PUBREL and PUBCOMP. 3.1.1: exactly a packet identifier. 5.0: packet
// identifier, then an optional reason code (Remaining Length 2 means Success) and optional properties
// (Remaining Length < 4 means none).
func (d *decoder) ack(p *Packet) {
	p.PacketID = d.packetID()
	if !d.v5 || d.err != nil || d.left() == 0 {
		return
	}
	p.ReasonCode = ReasonCode(d.u8("reason code"))
	set, spec := &pubackCodes, "[MQTT-3.4.2-1]"
	switch d.t {
	case PUBREC:
		spec = "[MQTT-3.5.2-1]"
	case PUBREL:
		set, spec = &pubrelCodes, "[MQTT-3.6.2-1]"
	case PUBCOMP:
		set, spec = &pubrelCodes, "[MQTT-3.7.2-1]"
	}
	if !set.has(p.ReasonCode) {
		d.fail(ProtocolError, "reason code "+p.ReasonCode.String()+" not allowed "+spec)
		return
	}
	if d.left() > 0 {
		d.props(&p.Props, ackProps)
	}
}

// ackLen returns the Remaining Length of PUBACK/PUBREC/PUBREL/PUBCOMP and the size of its properties.
// 5.0 omits the reason code and properties when it is Success with no properties, and the properties
// when there are none.
func (p *Packet) ackLen(v5 bool) (n, props int) {
	if !v5 {
		return 2, 0
	}
	props = p.Props.size(ackProps)
	switch {
	case props > 0:
		return 3 + varintSize(props) + props, props
	case p.ReasonCode != Success:
		return 3, 0
	}
	return 2, 0
}

// AppendAck appends to dst a PUBACK, PUBREC, PUBREL or PUBCOMP (t) for
// packet identifier id with reason code code and no properties, for a
// client of protocol version (V311 or V5), and returns the extended
// buffer. It is Append of a Packet with those fields, without the Packet,
// whose kilobyte a broker would otherwise clear for every acknowledgement
// it sends. 3.1.1 has no reason code: code is left out there.
func AppendAck(dst []byte, version byte, t Type, id uint16, code ReasonCode) []byte {
	first := byte(t) << 4
	if t == PUBREL {
		first |= 2
	}
	if version == V5 && code != Success {
		return append(dst, first, 3, byte(id>>8), byte(id), byte(code))
	}
	return append(dst, first, 2, byte(id>>8), byte(id))
}

func (p *Packet) appendAck(dst []byte, v5 bool) []byte {
	n, props := p.ackLen(v5)
	first := byte(p.Type) << 4
	if p.Type == PUBREL {
		first |= 2
	}
	dst = appendFixedHeader(dst, first, n)
	dst = appendUint16(dst, p.PacketID)
	if n > 2 {
		dst = append(dst, byte(p.ReasonCode))
	}
	if n > 3 {
		dst = p.Props.appendProps(dst, ackProps, props)
	}
	return dst
}

// disconnect decodes a DISCONNECT. 3.1.1: empty. 5.0: optional reason code (absent = Normal
// disconnection) and optional properties.
func (d *decoder) disconnect(p *Packet) {
	if !d.v5 || d.left() == 0 {
		return
	}
	p.ReasonCode = ReasonCode(d.u8("reason code"))
	if !disconnectCodes.has(p.ReasonCode) {
		d.fail(ProtocolError, "reason code "+p.ReasonCode.String()+" not allowed [MQTT-3.14.2-1]")
		return
	}
	if d.left() > 0 {
		d.props(&p.Props, disconnectProps)
	}
}

// auth decodes an AUTH (5.0 only). An empty body means Success without properties; otherwise a reason
// code and properties that must include the Authentication Method follow [3.15.2.2.2].
func (d *decoder) auth(p *Packet) {
	if d.left() == 0 {
		return
	}
	p.ReasonCode = ReasonCode(d.u8("reason code"))
	if !authCodes.has(p.ReasonCode) {
		d.fail(ProtocolError, "reason code "+p.ReasonCode.String()+" not allowed [MQTT-3.15.2-1]")
		return
	}
	d.props(&p.Props, authProps)
	if d.err == nil && p.Props.AuthMethod == nil {
		d.fail(ProtocolError, "no authentication method [3.15.2.2.2]")
	}
}

// optionalReasonLen returns the Remaining Length of a 5.0 DISCONNECT or AUTH and the size of its
// properties: 0 for Success without properties; for DISCONNECT, 1 for a reason code without properties.
func (p *Packet) optionalReasonLen(v5 bool, allowed propSet) (n, props int) {
	if !v5 {
		return 0, 0
	}
	props = p.Props.size(allowed)
	switch {
	case props > 0:
		return 1 + varintSize(props) + props, props
	case p.ReasonCode == Success:
		return 0, 0
	case p.Type == AUTH:
		return 2, 0
	}
	return 1, 0
}

func (p *Packet) appendOptionalReason(dst []byte, v5 bool, allowed propSet) []byte {
	n, props := p.optionalReasonLen(v5, allowed)
	dst = appendFixedHeader(dst, byte(p.Type)<<4, n)
	if n > 0 {
		dst = append(dst, byte(p.ReasonCode))
	}
	if n > 1 {
		dst = p.Props.appendProps(dst, allowed, props)
	}
	return dst
}
