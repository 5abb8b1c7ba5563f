package packet

import "bytes"

// Subscription Options bits (5.0 §3.8.3.1; 3.1.1 has only the QoS bits).
const (
	optQoS            = 0x03
	optNoLocal        = 0x04
	optRetainAsPub    = 0x08
	optRetainHandling = 0x30
	optRHShift        = 4
	optReserved5      = 0xc0
	optReserved311    = 0xfc
)

var sharePrefix = []byte("$share/")

// subscribe decodes a SUBSCRIBE: packet identifier, properties (5.0) and at least one filter/options pair.
func (d *decoder) subscribe(p *Packet) {
	p.PacketID = d.packetID()
	if d.v5 {
		d.props(&p.Props, subscribeProps)
	}
	if d.err == nil && d.left() == 0 {
		d.fail(ProtocolError, "no topic filter "+d.spec("[MQTT-3.8.3-3]", "[MQTT-3.8.3-2]"))
		return
	}
	start, n := d.off, 0
	for d.left() > 0 {
		filter := d.utf8("topic filter") // [MQTT-3.8.3-1]
		opts := d.u8("subscription options")
		if d.err != nil {
			return
		}
		s := Subscription{Filter: filter, QoS: opts & optQoS}
		if !d.v5 {
			if opts&optReserved311 != 0 {
				d.fail(MalformedPacket, "reserved subscription option bits set [MQTT-3-8.3-4]")
				return
			}
			if s.QoS == 3 {
				d.fail(MalformedPacket, "requested QoS 3 [MQTT-3-8.3-4]")
				return
			}
		} else {
			s.NoLocal = opts&optNoLocal != 0
			s.RetainAsPublished = opts&optRetainAsPub != 0
			s.RetainHandling = opts & optRetainHandling >> optRHShift
			switch {
			case opts&optReserved5 != 0:
				d.fail(MalformedPacket, "reserved subscription option bits set [MQTT-3.8.3-5]")
				return
			case s.QoS == 3:
				d.fail(ProtocolError, "maximum QoS 3 [3.8.3.1]")
				return
			case s.RetainHandling == 3:
				d.fail(ProtocolError, "retain handling 3 [3.8.3.1]")
				return
			case s.NoLocal && bytes.HasPrefix(filter, sharePrefix):
				d.fail(ProtocolError, "no local on a shared subscription [MQTT-3.8.3-4]")
				return
			}
		}
		n++
	}
	p.Subs = Subscriptions{raw: d.b[start:d.off:d.off], n: n} // checked above; a view of the body
}

// suback decodes a SUBACK: packet identifier, properties (5.0) and at least one return/reason code.
func (d *decoder) suback(p *Packet) {
	p.PacketID = d.packetID()
	set := &suback311Set
	if d.v5 {
		d.props(&p.Props, subackProps)
		set = &subackCodes
	}
	d.reasonList(p, set, "[MQTT-3.9.3-1]", "[MQTT-3.9.3-2]")
}

// reasonList reads the rest of the body as a non-empty list of codes from set into p.ReasonCodes.
func (d *decoder) reasonList(p *Packet, set *codeSet, emptySpec, spec string) {
	if d.err != nil {
		return
	}
	if d.left() == 0 {
		d.fail(ProtocolError, "no reason codes "+emptySpec)
		return
	}
	for _, c := range d.b[d.off:] {
		if !set.has(ReasonCode(c)) {
			d.fail(ProtocolError, "reason code "+ReasonCode(c).String()+" not allowed "+spec)
			return
		}
		p.ReasonCodes = append(p.ReasonCodes, ReasonCode(c))
	}
	d.off = len(d.b)
}

// unsubscribe decodes an UNSUBSCRIBE: packet identifier, properties (5.0) and at least one filter.
func (d *decoder) unsubscribe(p *Packet) {
	p.PacketID = d.packetID()
	if d.v5 {
		d.props(&p.Props, unsubscribeProps)
	}
	if d.err == nil && d.left() == 0 {
		d.fail(ProtocolError, "no topic filter [MQTT-3.10.3-2]")
		return
	}
	start, n := d.off, 0
	for d.left() > 0 {
		d.utf8("topic filter") // [MQTT-3.10.3-1]
		if d.err != nil {
			return
		}
		n++
	}
	p.Filters = TopicFilters{raw: d.b[start:d.off:d.off], n: n} // checked above; a view of the body
}

// unsuback decodes an UNSUBACK. 3.1.1: exactly a packet identifier. 5.0: packet identifier, properties
// and at least one reason code.
func (d *decoder) unsuback(p *Packet) {
	p.PacketID = d.packetID()
	if d.v5 {
		d.props(&p.Props, unsubackProps)
		d.reasonList(p, &unsubCodes, "[MQTT-3.11.3-1]", "[MQTT-3.11.3-2]")
	}
}

// subscribeLen returns the Remaining Length of a SUBSCRIBE and the size of its properties.
func (p *Packet) subscribeLen(v5 bool) (n, props int) {
	n = 2
	if v5 {
		props = p.Props.size(subscribeProps)
		n += varintSize(props) + props
	}
	return n + len(p.Subs.raw), props
}

func (p *Packet) appendSubscribe(dst []byte, v5 bool) []byte {
	n, props := p.subscribeLen(v5)
	dst = appendFixedHeader(dst, byte(SUBSCRIBE)<<4|2, n)
	dst = appendUint16(dst, p.PacketID)
	if v5 {
		dst = p.Props.appendProps(dst, subscribeProps, props)
	}
	return p.Subs.appendWire(dst, v5)
}

// subackLen returns the Remaining Length of a SUBACK or UNSUBACK and the size of its properties.
// A 3.1.1 UNSUBACK has no payload.
func (p *Packet) subackLen(v5 bool, allowed propSet) (n, props int) {
	n = 2
	if v5 {
		props = p.Props.size(allowed)
		n += varintSize(props) + props
	}
	if v5 || p.Type == SUBACK {
		n += len(p.ReasonCodes)
	}
	return n, props
}

// appendSuback encodes a SUBACK or UNSUBACK. For 3.1.1 SUBACK, codes other than 0x00-0x02 are written
// as 0x80 (Failure).
func (p *Packet) appendSuback(dst []byte, v5 bool, allowed propSet) []byte {
	n, props := p.subackLen(v5, allowed)
	dst = appendFixedHeader(dst, byte(p.Type)<<4, n)
	dst = appendUint16(dst, p.PacketID)
	if v5 {
		dst = p.Props.appendProps(dst, allowed, props)
	} else if p.Type == UNSUBACK {
		return dst
	}
	for _, c := range p.ReasonCodes {
		if !v5 && c > GrantedQoS2 {
			c = SubackFailure
		}
		dst = append(dst, byte(c))
	}
	return dst
}

// unsubscribeLen returns the Remaining Length of an UNSUBSCRIBE and the size of its properties.
func (p *Packet) unsubscribeLen(v5 bool) (n, props int) {
	n = 2
	if v5 {
		props = p.Props.size(unsubscribeProps)
		n += varintSize(props) + props
	}
	return n + len(p.Filters.raw), props
}

func (p *Packet) appendUnsubscribe(dst []byte, v5 bool) []byte {
	n, props := p.unsubscribeLen(v5)
	dst = appendFixedHeader(dst, byte(UNSUBSCRIBE)<<4|2, n)
	dst = appendUint16(dst, p.PacketID)
	if v5 {
		dst = p.Props.appendProps(dst, unsubscribeProps, props)
	}
	return append(dst, p.Filters.raw...)
}
