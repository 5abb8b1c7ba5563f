package packet

import "strconv"

// Properties holds the MQTT 5.0 properties of one packet (or of a CONNECT's Will). Byte-slice fields are
// views into the decoded body; a property is present when its slice is non-nil or its Has* flag is set.
// Decode sets only the properties the packet type allows (anything else is an *Error); Append writes
// only the properties the packet type allows and silently leaves out the others.
type Properties struct {
	PayloadFormat    byte // 0x01 PUBLISH, Will
	HasPayloadFormat bool
	MessageExpiry    uint32 // 0x02 PUBLISH, Will
	HasMessageExpiry bool
	ContentType      []byte // 0x03 PUBLISH, Will
	ResponseTopic    []byte // 0x08 PUBLISH, Will
	CorrelationData  []byte // 0x09 PUBLISH, Will
	// SubscriptionIDs (0x0B): a PUBLISH from the server may carry several, a SUBSCRIBE at most one.
	SubscriptionIDs        []uint32
	SessionExpiry          uint32 // 0x11 CONNECT, CONNACK, DISCONNECT
	HasSessionExpiry       bool
	AssignedClientID       []byte // 0x12 CONNACK
	ServerKeepAlive        uint16 // 0x13 CONNACK
	HasServerKeepAlive     bool
	AuthMethod             []byte // 0x15 CONNECT, CONNACK, AUTH
	AuthData               []byte // 0x16 CONNECT, CONNACK, AUTH
	RequestProblemInfo     byte   // 0x17 CONNECT
	HasRequestProblemInfo  bool
	WillDelay              uint32 // 0x18 Will
	HasWillDelay           bool
	RequestResponseInfo    byte // 0x19 CONNECT
	HasRequestResponseInfo bool
	ResponseInfo           []byte // 0x1A CONNACK
	ServerReference        []byte // 0x1C CONNACK, DISCONNECT
	// ReasonString (0x1F): CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH.
	ReasonString            []byte
	ReceiveMaximum          uint16 // 0x21 CONNECT, CONNACK
	HasReceiveMaximum       bool
	TopicAliasMaximum       uint16 // 0x22 CONNECT, CONNACK
	HasTopicAliasMaximum    bool
	TopicAlias              uint16 // 0x23 PUBLISH
	HasTopicAlias           bool
	MaximumQoS              byte // 0x24 CONNACK
	HasMaximumQoS           bool
	RetainAvailable         byte // 0x25 CONNACK
	HasRetainAvailable      bool
	User                    UserProperties // 0x26 every packet with properties, in order
	MaximumPacketSize       uint32         // 0x27 CONNECT, CONNACK
	HasMaximumPacketSize    bool
	WildcardSubAvailable    byte // 0x28 CONNACK
	HasWildcardSubAvailable bool
	SubIDAvailable          byte // 0x29 CONNACK
	HasSubIDAvailable       bool
	SharedSubAvailable      byte // 0x2A CONNACK
	HasSharedSubAvailable   bool
}

// Reset clears p and keeps the capacity of SubscriptionIDs for reuse, unless a large packet grew it
// beyond keptSubIDs.
func (p *Properties) Reset() {
	ids := keep(p.SubscriptionIDs, keptSubIDs)
	*p = Properties{} // cleared in place, without a temporary
	p.SubscriptionIDs = ids
}

// keptSubIDs is how many Subscription Identifiers a reused Properties keeps room for.
const keptSubIDs = 8

// keep returns s emptied for reuse, or nil when its capacity is over max (a large packet grew it: an
// idle connection should not keep what a rare large packet needed).
func keep[T any](s []T, max int) []T {
	if cap(s) > max {
		return nil
	}
	return s[:0]
}

// Property identifiers (5.0 Table 2-4).
const (
	propPayloadFormat        = 0x01
	propMessageExpiry        = 0x02
	propContentType          = 0x03
	propResponseTopic        = 0x08
	propCorrelationData      = 0x09
	propSubscriptionID       = 0x0B
	propSessionExpiry        = 0x11
	propAssignedClientID     = 0x12
	propServerKeepAlive      = 0x13
	propAuthMethod           = 0x15
	propAuthData             = 0x16
	propRequestProblemInfo   = 0x17
	propWillDelay            = 0x18
	propRequestResponseInfo  = 0x19
	propResponseInfo         = 0x1A
	propServerReference      = 0x1C
	propReasonString         = 0x1F
	propReceiveMaximum       = 0x21
	propTopicAliasMaximum    = 0x22
	propTopicAlias           = 0x23
	propMaximumQoS           = 0x24
	propRetainAvailable      = 0x25
	propUser                 = 0x26
	propMaximumPacketSize    = 0x27
	propWildcardSubAvailable = 0x28
	propSubIDAvailable       = 0x29
	propSharedSubAvailable   = 0x2A
)

// propSet is a set of property identifiers (all are below 64).
type propSet uint64

func (s propSet) has(id int) bool { return id < 64 && s&(1<<id) != 0 }

// The properties each packet may carry (5.0 §2.2.2.2 Table 2-4 and the per-packet sections), as
// constants: sets computed at init would cost code in every binary (TestPropSets checks them).
const (
	connectProps propSet = 1<<propSessionExpiry | 1<<propReceiveMaximum | 1<<propMaximumPacketSize |
		1<<propTopicAliasMaximum | 1<<propRequestResponseInfo | 1<<propRequestProblemInfo | 1<<propUser |
		1<<propAuthMethod | 1<<propAuthData
	willProps propSet = 1<<propWillDelay | 1<<propPayloadFormat | 1<<propMessageExpiry |
		1<<propContentType | 1<<propResponseTopic | 1<<propCorrelationData | 1<<propUser
	connackProps propSet = 1<<propSessionExpiry | 1<<propReceiveMaximum | 1<<propMaximumQoS |
		1<<propRetainAvailable | 1<<propMaximumPacketSize | 1<<propAssignedClientID |
		1<<propTopicAliasMaximum | 1<<propReasonString | 1<<propUser | 1<<propWildcardSubAvailable |
		1<<propSubIDAvailable | 1<<propSharedSubAvailable | 1<<propServerKeepAlive | 1<<propResponseInfo |
		1<<propServerReference | 1<<propAuthMethod | 1<<propAuthData
	publishProps propSet = 1<<propPayloadFormat | 1<<propMessageExpiry | 1<<propTopicAlias |
		1<<propResponseTopic | 1<<propCorrelationData | 1<<propUser | 1<<propSubscriptionID |
		1<<propContentType
	ackProps         propSet = 1<<propReasonString | 1<<propUser // PUBACK, PUBREC, PUBREL, PUBCOMP
	subscribeProps   propSet = 1<<propSubscriptionID | 1<<propUser
	subackProps      propSet = 1<<propReasonString | 1<<propUser
	unsubscribeProps propSet = 1 << propUser
	unsubackProps    propSet = 1<<propReasonString | 1<<propUser
	disconnectProps  propSet = 1<<propSessionExpiry | 1<<propReasonString | 1<<propUser |
		1<<propServerReference
	authProps propSet = 1<<propAuthMethod | 1<<propAuthData | 1<<propReasonString | 1<<propUser
)

// props decodes a Property Length and the properties that follow into p. A property not in allowed is
// malformed (§2.2.2.2); a repeated one is a Protocol Error, except User Property and, in PUBLISH,
// Subscription Identifier. Values the specification restricts are checked.
func (d *decoder) props(p *Properties, allowed propSet) {
	n := d.varint("property length")
	if d.err != nil {
		return
	}
	if n > d.left() {
		d.truncated("properties")
		return
	}
	end, outer := d.off+n, d.b
	d.b = d.b[:end] // reads stop at the end of the property section
	var seen propSet
	userStart, userEnd, userN, userSize := 0, 0, 0, 0
	for d.off < end && d.err == nil {
		start := d.off
		id := d.varint("property identifier")
		if d.err != nil {
			break
		}
		if !allowed.has(id) {
			d.fail(MalformedPacket, "property 0x"+strconv.FormatUint(uint64(id), 16)+" not allowed [2.2.2.2]")
			break
		}
		if seen.has(id) && id != propUser && (id != propSubscriptionID || allowed != publishProps) {
			d.fail(ProtocolError, "property 0x"+strconv.FormatUint(uint64(id), 16)+" included more than once")
			break
		}
		seen |= 1 << id
		d.prop(p, id)
		if id == propUser && d.err == nil {
			// The list is a view from the first User Property to the end
			// of the last: no allocation, whatever their number.
			if userN == 0 {
				userStart = start
			}
			userEnd, userN, userSize = d.off, userN+1, userSize+d.off-start
		}
	}
	if userN > 0 && d.err == nil {
		p.User = UserProperties{raw: d.b[userStart:userEnd:userEnd], n: userN, size: userSize}
	}
	d.b = outer
	if d.err != nil {
		d.off = len(d.b)
	}
}

// prop decodes the value of property id.
func (d *decoder) prop(p *Properties, id int) {
	switch id {
	case propPayloadFormat:
		p.PayloadFormat, p.HasPayloadFormat = d.flag01("payload format indicator"), true
	case propMessageExpiry:
		p.MessageExpiry, p.HasMessageExpiry = d.u32("message expiry interval"), true
	case propContentType:
		p.ContentType = d.utf8("content type") // [MQTT-3.3.2-19]
	case propResponseTopic:
		p.ResponseTopic = d.utf8("response topic") // [MQTT-3.3.2-13]
		if d.err == nil && !ValidTopicName(p.ResponseTopic) {
			d.fail(ProtocolError, "response topic is not a valid topic name [MQTT-3.3.2-14]")
		}
	case propCorrelationData:
		p.CorrelationData = d.binary("correlation data")
	case propSubscriptionID:
		v := d.varint("subscription identifier")
		if d.err == nil && v == 0 {
			d.fail(ProtocolError, "subscription identifier 0 [3.3.2.3.8]")
		}
		if len(p.SubscriptionIDs) == 0 {
			// Room for all of them at once: a PUBLISH may carry many, and
			// append's doubling would hold up to twice their memory.
			if n := countProps(d.b[d.off:], propSubscriptionID) + 1; n > cap(p.SubscriptionIDs) {
				p.SubscriptionIDs = make([]uint32, 0, n)
			}
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(v))
	case propSessionExpiry:
		p.SessionExpiry, p.HasSessionExpiry = d.u32("session expiry interval"), true
	case propAssignedClientID:
		p.AssignedClientID = d.utf8("assigned client identifier")
	case propServerKeepAlive:
		p.ServerKeepAlive, p.HasServerKeepAlive = d.u16("server keep alive"), true
	case propAuthMethod:
		p.AuthMethod = d.utf8("authentication method")
	case propAuthData:
		p.AuthData = d.binary("authentication data")
	case propRequestProblemInfo:
		p.RequestProblemInfo, p.HasRequestProblemInfo = d.flag01("request problem information"), true
	case propWillDelay:
		p.WillDelay, p.HasWillDelay = d.u32("will delay interval"), true
	case propRequestResponseInfo:
		p.RequestResponseInfo, p.HasRequestResponseInfo = d.flag01("request response information"), true
	case propResponseInfo:
		p.ResponseInfo = d.utf8("response information")
	case propServerReference:
		p.ServerReference = d.utf8("server reference")
	case propReasonString:
		p.ReasonString = d.utf8("reason string")
	case propReceiveMaximum:
		p.ReceiveMaximum, p.HasReceiveMaximum = d.nonZero16("receive maximum"), true
	case propTopicAliasMaximum:
		p.TopicAliasMaximum, p.HasTopicAliasMaximum = d.u16("topic alias maximum"), true
	case propTopicAlias:
		p.TopicAlias, p.HasTopicAlias = d.u16("topic alias"), true
		if d.err == nil && p.TopicAlias == 0 {
			d.fail(TopicAliasInvalid, "topic alias 0 [MQTT-3.3.2-8]")
		}
	case propMaximumQoS:
		p.MaximumQoS, p.HasMaximumQoS = d.flag01("maximum QoS"), true
	case propRetainAvailable:
		p.RetainAvailable, p.HasRetainAvailable = d.flag01("retain available"), true
	case propUser:
		// Checked here, kept by props as a view of the wire bytes.
		d.utf8("user property name") // [MQTT-1.5.7-1]
		d.utf8("user property value")
	case propMaximumPacketSize:
		v := d.u32("maximum packet size")
		if d.err == nil && v == 0 {
			d.fail(ProtocolError, "maximum packet size 0")
		}
		p.MaximumPacketSize, p.HasMaximumPacketSize = v, true
	case propWildcardSubAvailable:
		p.WildcardSubAvailable, p.HasWildcardSubAvailable = d.flag01("wildcard subscription available"), true
	case propSubIDAvailable:
		p.SubIDAvailable, p.HasSubIDAvailable = d.flag01("subscription identifier available"), true
	case propSharedSubAvailable:
		p.SharedSubAvailable, p.HasSharedSubAvailable = d.flag01("shared subscription available"), true
	}
}

// flag01 reads a Byte property whose only valid values are 0 and 1.
func (d *decoder) flag01(field string) byte {
	v := d.u8(field)
	if v > 1 {
		d.fail(ProtocolError, field+" "+strconv.Itoa(int(v))+" is not 0 or 1")
	}
	return v
}

// nonZero16 reads a Two Byte Integer property that must not be 0.
func (d *decoder) nonZero16(field string) uint16 {
	v := d.u16(field)
	if d.err == nil && v == 0 {
		d.fail(ProtocolError, field+" 0")
	}
	return v
}

// size returns the encoded size of the allowed properties of p, without the Property Length.
func (p *Properties) size(allowed propSet) int {
	_, n := p.encode(nil, allowed, false)
	return n
}

// appendProps appends the Property Length n (from size) and the allowed properties of p.
func (p *Properties) appendProps(dst []byte, allowed propSet, n int) []byte {
	dst = appendVarint(dst, n)
	dst, _ = p.encode(dst, allowed, true)
	return dst
}

// encode measures (write == false) or appends (write == true) the allowed properties of p in identifier
// order; one walk for both keeps size and output in step. In a SUBSCRIBE only the first Subscription
// Identifier is written.
func (p *Properties) encode(dst []byte, allowed propSet, write bool) ([]byte, int) {
	n := 0
	byteProp := func(id int, v byte, present bool) {
		if present && allowed.has(id) {
			n += 2
			if write {
				dst = append(dst, byte(id), v)
			}
		}
	}
	u16Prop := func(id int, v uint16, present bool) {
		if present && allowed.has(id) {
			n += 3
			if write {
				dst = appendUint16(append(dst, byte(id)), v)
			}
		}
	}
	u32Prop := func(id int, v uint32, present bool) {
		if present && allowed.has(id) {
			n += 5
			if write {
				dst = appendUint32(append(dst, byte(id)), v)
			}
		}
	}
	binProp := func(id int, v []byte) {
		if v != nil && allowed.has(id) {
			n += 3 + len(v)
			if write {
				dst = appendBinary(append(dst, byte(id)), v)
			}
		}
	}
	byteProp(propPayloadFormat, p.PayloadFormat, p.HasPayloadFormat)
	u32Prop(propMessageExpiry, p.MessageExpiry, p.HasMessageExpiry)
	binProp(propContentType, p.ContentType)
	binProp(propResponseTopic, p.ResponseTopic)
	binProp(propCorrelationData, p.CorrelationData)
	if allowed.has(propSubscriptionID) {
		for i, id := range p.SubscriptionIDs {
			if i > 0 && !allowed.has(propTopicAlias) { // only a PUBLISH (the one with Topic Alias) carries several
				break
			}
			if id > MaxRemaining {
				panic("packet: subscription identifier exceeds 268435455")
			}
			n += 1 + varintSize(int(id))
			if write {
				dst = appendVarint(append(dst, propSubscriptionID), int(id))
			}
		}
	}
	u32Prop(propSessionExpiry, p.SessionExpiry, p.HasSessionExpiry)
	binProp(propAssignedClientID, p.AssignedClientID)
	u16Prop(propServerKeepAlive, p.ServerKeepAlive, p.HasServerKeepAlive)
	binProp(propAuthMethod, p.AuthMethod)
	binProp(propAuthData, p.AuthData)
	byteProp(propRequestProblemInfo, p.RequestProblemInfo, p.HasRequestProblemInfo)
	u32Prop(propWillDelay, p.WillDelay, p.HasWillDelay)
	byteProp(propRequestResponseInfo, p.RequestResponseInfo, p.HasRequestResponseInfo)
	binProp(propResponseInfo, p.ResponseInfo)
	binProp(propServerReference, p.ServerReference)
	binProp(propReasonString, p.ReasonString)
	u16Prop(propReceiveMaximum, p.ReceiveMaximum, p.HasReceiveMaximum)
	u16Prop(propTopicAliasMaximum, p.TopicAliasMaximum, p.HasTopicAliasMaximum)
	u16Prop(propTopicAlias, p.TopicAlias, p.HasTopicAlias)
	byteProp(propMaximumQoS, p.MaximumQoS, p.HasMaximumQoS)
	byteProp(propRetainAvailable, p.RetainAvailable, p.HasRetainAvailable)
	if allowed.has(propUser) {
		n += p.User.size
		if write {
			dst = p.User.appendWire(dst)
		}
	}
	u32Prop(propMaximumPacketSize, p.MaximumPacketSize, p.HasMaximumPacketSize)
	byteProp(propWildcardSubAvailable, p.WildcardSubAvailable, p.HasWildcardSubAvailable)
	byteProp(propSubIDAvailable, p.SubIDAvailable, p.HasSubIDAvailable)
	byteProp(propSharedSubAvailable, p.SharedSubAvailable, p.HasSharedSubAvailable)
	return dst, n
}
