package packet

import "strconv"

// Decode parses one packet whose fixed header is fh and whose body is exactly body
// (len(body) == fh.Remaining) into p, which it resets first (keeping slice capacity).
//
// version is the connection's protocol level: V5 selects the 5.0 rules, any other value the 3.1.1 rules
// (V31 is decoded as 3.1.1). It is ignored for CONNECT, whose body declares its own level.
//
// All slices in p alias body: nothing is copied, and decoding PUBLISH, the acknowledgements, PINGs and
// DISCONNECT into a reused p allocates nothing.
//
// Every violation of the specification's packet-format rules is an *Error: reserved type or flag bits,
// QoS 3, packet identifier 0 where one is required, a topic name with wildcards, U+0000 or invalid UTF-8,
// an empty topic name (3.1.1; 5.0 without a Topic Alias), SUBSCRIBE/UNSUBSCRIBE without filters, bad
// subscription options, a reason code the packet type may not carry, a property that is unknown,
// duplicated, not allowed in the packet or out of range, inconsistent CONNECT flags, truncated fields and
// trailing bytes. Decode does not apply broker policy: a CONNECT with an unknown protocol name or level is
// returned as data (for an unknown level only ProtocolName and ProtocolLevel are set and the rest of the
// body is not examined), so the broker can answer CONNACK 0x01 / 0x84 itself. Decode never panics.
func Decode(fh FixedHeader, body []byte, version byte, p *Packet) error {
	p.Reset()
	return decode(fh, body, version, p)
}

// decode is Decode into a p that is clear already. Reader.Read clears it
// before it waits for the packet; clearing a Packet's kilobyte a second
// time was about 2% of the broker's instructions at an everyday rate.
func decode(fh FixedHeader, body []byte, version byte, p *Packet) error {
	p.Type = fh.Type
	switch {
	case version == V5, fh.Type == CONNECT, fh.Type == SUBSCRIBE, fh.Type == UNSUBSCRIBE:
		p.wide = true // Props, Connect, Subs or Filters may be filled (clearRead)
	}
	if len(body) != fh.Remaining {
		return decodeError(MalformedPacket, "body of "+strconv.Itoa(len(body))+" bytes for remaining length "+strconv.Itoa(fh.Remaining))
	}
	d := decoder{b: body, t: fh.Type, v5: version == V5}
	switch fh.Type {
	case CONNECT:
		d.flags(fh, 0)
		d.connect(p)
	case CONNACK:
		d.flags(fh, 0)
		d.connack(p)
	case PUBLISH:
		d.publish(fh, p)
	case PUBACK, PUBREC, PUBCOMP:
		d.flags(fh, 0)
		d.ack(p)
	case PUBREL:
		d.flags(fh, 2)
		d.ack(p)
	case SUBSCRIBE:
		d.flags(fh, 2)
		d.subscribe(p)
	case SUBACK:
		d.flags(fh, 0)
		d.suback(p)
	case UNSUBSCRIBE:
		d.flags(fh, 2)
		d.unsubscribe(p)
	case UNSUBACK:
		d.flags(fh, 0)
		d.unsuback(p)
	case PINGREQ, PINGRESP:
		d.flags(fh, 0)
	case DISCONNECT:
		d.flags(fh, 0)
		d.disconnect(p)
	case AUTH:
		if !d.v5 {
			d.fail(MalformedPacket, "reserved packet type in MQTT 3.1.1 [MQTT-2.2.2-2]")
			break
		}
		d.flags(fh, 0)
		d.auth(p)
	default:
		d.fail(MalformedPacket, "reserved packet type "+d.spec("[MQTT-2.2.2-2]", "[MQTT-2.1.3-1]"))
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail(MalformedPacket, strconv.Itoa(len(d.b)-d.off)+" trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

// flags checks the fixed-header flag bits of every type but PUBLISH [MQTT-2.2.2-1] / [MQTT-2.1.3-1],
// with the packet-specific statements for PUBREL, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT and AUTH.
func (d *decoder) flags(fh FixedHeader, want byte) {
	if fh.Flags == want {
		return
	}
	spec := d.spec("[MQTT-2.2.2-1]", "[MQTT-2.1.3-1]")
	switch fh.Type {
	case PUBREL:
		spec = "[MQTT-3.6.1-1]"
	case SUBSCRIBE:
		spec = "[MQTT-3.8.1-1]"
	case UNSUBSCRIBE:
		spec = "[MQTT-3.10.1-1]"
	case DISCONNECT:
		if d.v5 {
			spec = "[MQTT-3.14.1-1]"
		}
	case AUTH:
		spec = "[MQTT-3.15.1-1]"
	}
	d.fail(MalformedPacket, "reserved flag bits 0x"+strconv.FormatUint(uint64(fh.Flags), 16)+" "+spec)
}

// packetID reads a packet identifier that must not be 0 [MQTT-2.3.1-1] / [MQTT-2.2.1-3].
func (d *decoder) packetID() uint16 {
	id := d.u16("packet identifier")
	if d.err == nil && id == 0 {
		d.fail(ProtocolError, "packet identifier 0 "+d.spec("[MQTT-2.3.1-1]", "[MQTT-2.2.1-3]"))
	}
	return id
}
