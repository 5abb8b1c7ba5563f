package packet

// CONNECT flag bits (3.1.2.3 in both versions).
const (
	connReserved     = 0x01
	connCleanStart   = 0x02
	connWill         = 0x04
	connWillQoSShift = 3
	connWillRetain   = 0x20
	connPassword     = 0x40
	connUsername     = 0x80
)

var (
	nameMQTT   = []byte("MQTT")
	nameMQIsdp = []byte("MQIsdp")
)

// connect decodes a CONNECT body. The body declares its own protocol level; unknown levels stop after
// the level byte (data for the broker, not an error).
func (d *decoder) connect(p *Packet) {
	c := &p.Connect
	c.ProtocolName = d.utf8("protocol name")
	c.ProtocolLevel = d.u8("protocol level")
	if d.err != nil {
		return
	}
	switch c.ProtocolLevel &^ BridgeFlag {
	case V31, V311:
		d.v5 = false
	case V5:
		d.v5 = c.ProtocolLevel == V5 // a 5.0 bridge level is not one Mosquitto sends
		if !d.v5 {
			d.off = len(d.b)
			return
		}
	default:
		d.off = len(d.b) // unknown level: the rest of the body follows rules we do not know
		return
	}
	flags := d.u8("connect flags")
	c.KeepAlive = d.u16("keep alive")
	if d.err != nil {
		return
	}
	if flags&connReserved != 0 {
		d.fail(MalformedPacket, "reserved connect flag set [MQTT-3.1.2-3]")
		return
	}
	c.CleanStart = flags&connCleanStart != 0
	c.WillFlag = flags&connWill != 0
	c.WillQoS = flags >> connWillQoSShift & 3
	c.WillRetain = flags&connWillRetain != 0
	c.PasswordFlag = flags&connPassword != 0
	c.UsernameFlag = flags&connUsername != 0
	switch {
	case !c.WillFlag && c.WillQoS != 0:
		d.fail(MalformedPacket, "will QoS without will flag "+d.spec("[MQTT-3.1.2-13]", "[MQTT-3.1.2-11]"))
	case !c.WillFlag && c.WillRetain:
		d.fail(MalformedPacket, "will retain without will flag "+d.spec("[MQTT-3.1.2-15]", "[MQTT-3.1.2-13]"))
	case c.WillQoS == 3:
		d.fail(MalformedPacket, "will QoS 3 "+d.spec("[MQTT-3.1.2-14]", "[MQTT-3.1.2-12]"))
	case !d.v5 && c.PasswordFlag && !c.UsernameFlag:
		d.fail(MalformedPacket, "password flag without user name flag [MQTT-3.1.2-22]")
	}
	if d.v5 {
		d.props(&p.Props, connectProps)
		if d.err == nil && p.Props.AuthData != nil && p.Props.AuthMethod == nil {
			d.fail(ProtocolError, "authentication data without authentication method [3.1.2.11.10]")
		}
	}
	c.ClientID = d.utf8("client identifier") // [MQTT-3.1.3-4]
	if c.WillFlag {
		if d.v5 {
			d.props(&c.WillProps, willProps)
		}
		c.WillTopic = d.topicName("will topic")
		if d.err == nil && len(c.WillTopic) == 0 {
			d.fail(TopicNameInvalid, "empty will topic [MQTT-4.7.3-1]")
		}
		c.WillPayload = d.binary("will payload")
	}
	if c.UsernameFlag {
		c.Username = d.utf8("user name") // 3.1.1 [MQTT-3.1.3-11], 5.0 [MQTT-3.1.3-12]
	}
	if c.PasswordFlag {
		c.Password = d.binary("password")
	}
}

// connack decodes a CONNACK body: flags, return/reason code and (5.0) properties.
func (d *decoder) connack(p *Packet) {
	flags := d.u8("acknowledge flags")
	p.ReasonCode = ReasonCode(d.u8("return code"))
	if d.err != nil {
		return
	}
	if flags&0xfe != 0 {
		d.fail(MalformedPacket, "reserved acknowledge flags set "+d.spec("[3.2.2.1]", "[MQTT-3.2.2-1]"))
		return
	}
	p.SessionPresent = flags&1 != 0
	if p.SessionPresent && p.ReasonCode != 0 {
		d.fail(ProtocolError, "session present with a non-zero return code "+d.spec("[MQTT-3.2.2-4]", "[MQTT-3.2.2-6]"))
		return
	}
	if d.v5 {
		if !connackCodes.has(p.ReasonCode) {
			d.fail(ProtocolError, "reason code "+p.ReasonCode.String()+" not allowed [MQTT-3.2.2-8]")
			return
		}
		d.props(&p.Props, connackProps)
	}
}

// connectLevel returns the protocol level Append writes for a CONNECT and whether it uses the 5.0 layout.
func (p *Packet) connectLevel(version byte) (byte, bool) {
	level := p.Connect.ProtocolLevel
	if level == 0 {
		level = version
	}
	return level, level == V5
}

func (p *Packet) connectName(level byte) []byte {
	switch {
	case p.Connect.ProtocolName != nil:
		return p.Connect.ProtocolName
	case level == V31:
		return nameMQIsdp
	}
	return nameMQTT
}

// connectLen returns the Remaining Length of a CONNECT and the sizes of its two property sets.
func (p *Packet) connectLen(version byte) (n, props, will int) {
	c := &p.Connect
	level, v5 := p.connectLevel(version)
	n = 2 + len(p.connectName(level)) + 1 + 1 + 2 + 2 + len(c.ClientID)
	if v5 {
		props = p.Props.size(connectProps)
		n += varintSize(props) + props
	}
	if c.WillFlag {
		if v5 {
			will = c.WillProps.size(willProps)
			n += varintSize(will) + will
		}
		n += 2 + len(c.WillTopic) + 2 + len(c.WillPayload)
	}
	if c.UsernameFlag {
		n += 2 + len(c.Username)
	}
	if c.PasswordFlag {
		n += 2 + len(c.Password)
	}
	return n, props, will
}

// appendConnect encodes a CONNECT. The level written is Connect.ProtocolLevel, or version when that is 0;
// the layout follows the level written (5 = 5.0, anything else = 3.1.1). The name written is
// Connect.ProtocolName, or "MQTT" ("MQIsdp" for level 3) when it is nil.
func (p *Packet) appendConnect(dst []byte, version byte) []byte {
	c := &p.Connect
	level, v5 := p.connectLevel(version)
	n, props, will := p.connectLen(version)
	dst = appendFixedHeader(dst, byte(CONNECT)<<4, n)
	dst = appendBinary(dst, p.connectName(level))
	var flags byte
	if c.CleanStart {
		flags |= connCleanStart
	}
	if c.WillFlag {
		flags |= connWill | c.WillQoS&3<<connWillQoSShift
		if c.WillRetain {
			flags |= connWillRetain
		}
	}
	if c.PasswordFlag {
		flags |= connPassword
	}
	if c.UsernameFlag {
		flags |= connUsername
	}
	dst = append(dst, level, flags)
	dst = appendUint16(dst, c.KeepAlive)
	if v5 {
		dst = p.Props.appendProps(dst, connectProps, props)
	}
	dst = appendBinary(dst, c.ClientID)
	if c.WillFlag {
		if v5 {
			dst = c.WillProps.appendProps(dst, willProps, will)
		}
		dst = appendBinary(dst, c.WillTopic)
		dst = appendBinary(dst, c.WillPayload)
	}
	if c.UsernameFlag {
		dst = appendBinary(dst, c.Username)
	}
	if c.PasswordFlag {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}

// connackLen returns the Remaining Length of a CONNACK and the size of its properties.
func (p *Packet) connackLen(v5 bool) (n, props int) {
	return connackLen(v5, &p.Props)
}

// connackLen returns the Remaining Length of a CONNACK with properties pr
// (5.0 only; nil: none) and the size of those properties.
func connackLen(v5 bool, pr *Properties) (n, props int) {
	if !v5 {
		return 2, 0
	}
	if pr != nil {
		props = pr.size(connackProps)
	}
	return 2 + varintSize(props) + props, props
}

// appendConnack encodes a CONNACK.
func (p *Packet) appendConnack(dst []byte, v5 bool) []byte {
	return appendConnack(dst, v5, p.SessionPresent, p.ReasonCode, &p.Props)
}

// AppendConnack appends to dst a CONNACK for a client of protocol version
// (V311 or V5) with the Session Present flag and the reason code (3.1.1:
// the return code) given, and, for 5.0, the CONNACK properties of props
// (nil: none; others are left out, as Append does). It is Append of a
// Packet with those fields, without the Packet: a CONNACK is written at
// every new connection, whose goroutine's stack is still small. It
// returns the extended buffer.
func AppendConnack(dst []byte, version byte, sessionPresent bool, code ReasonCode, props *Properties) []byte {
	return appendConnack(dst, version == V5, sessionPresent, code, props)
}

// appendConnack encodes a CONNACK. Session Present is written only with reason code 0
// ([MQTT-3.2.2-4] / [MQTT-3.2.2-6]).
func appendConnack(dst []byte, v5, sessionPresent bool, code ReasonCode, pr *Properties) []byte {
	n, props := connackLen(v5, pr)
	dst = appendFixedHeader(dst, byte(CONNACK)<<4, n)
	var flags byte
	if sessionPresent && code == 0 {
		flags = 1
	}
	dst = append(dst, flags, byte(code))
	if v5 {
		if pr == nil {
			return append(dst, 0) // no properties
		}
		dst = pr.appendProps(dst, connackProps, props)
	}
	return dst
}
