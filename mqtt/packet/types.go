package packet

import "strconv"

// Type is the MQTT Control Packet type, the high nibble of a packet's first byte.
type Type byte

// Control packet types. AUTH exists only in MQTT 5.0; 0 is reserved in both versions.
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [...]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the packet type's upper-case name, e.g. "PUBLISH", or "Type(n)" for a value above 15.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Protocol levels as carried in the CONNECT packet's Protocol Level byte.
const (
	V31  byte = 3 // MQTT 3.1 ("MQIsdp"); decoded and encoded with the 3.1.1 rules
	V311 byte = 4 // MQTT 3.1.1
	V5   byte = 5 // MQTT 5.0
)

// MaxRemaining is the largest Remaining Length a 4-byte Variable Byte Integer can carry.
// BridgeFlag is the top bit of CONNECT's protocol level that Mosquitto's
// bridges set with try_private (3.1.1: 0x84): the client is a bridge, and
// the broker sends it none of its own messages back.
const BridgeFlag byte = 0x80

const MaxRemaining = 268435455

// FixedHeader is the first part of every control packet: the type, the 4 flag bits and the Remaining Length
// (the number of bytes that follow the fixed header).
type FixedHeader struct {
	Type      Type
	Flags     byte
	Remaining int
}

// Subscription is one Topic Filter / Subscription Options pair of a SUBSCRIBE packet, as
// Subscriptions.All yields it and SubscriptionsOf takes it.
// Decode checks that Filter is a valid UTF-8 Encoded String; wildcard placement, emptiness and
// "$share/" syntax are left to the broker, so that a 5.0 broker can answer 0x8F (Topic Filter invalid)
// for one filter instead of dropping the connection. NoLocal, RetainAsPublished and RetainHandling
// exist only in 5.0 and are ignored when encoding for 3.1.1.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
}

// Connect holds the CONNECT-specific fields. The CONNECT properties (5.0) are in Packet.Props; the Will
// properties are in WillProps. The flag fields say which optional payload fields are present; Append
// writes Username/Password only when UsernameFlag/PasswordFlag are set and the Will fields only when
// WillFlag is set.
type Connect struct {
	ProtocolName  []byte
	ProtocolLevel byte
	CleanStart    bool // Clean Session in 3.1.1
	KeepAlive     uint16
	ClientID      []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillTopic   []byte
	WillPayload []byte
	WillProps   Properties

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// Packet is one decoded or to-be-encoded control packet; which fields matter depends on Type.
// One Packet is meant to be reused per connection: Decode resets it and keeps the capacity of its
// slices (ReasonCodes, Props.SubscriptionIDs), so steady-state decoding
// allocates nothing. After Decode every byte slice in it is a view into the decoded body and is valid only
// as long as that body is (for a Reader: until its next Read). Copy what you keep.
type Packet struct {
	Type Type

	// PUBLISH fixed-header flags.
	Dup    bool
	QoS    byte
	Retain bool

	// PacketID is set for PUBLISH (QoS > 0), PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
	// UNSUBSCRIBE and UNSUBACK.
	PacketID uint16

	// Topic and Payload of a PUBLISH.
	Topic, Payload []byte

	// Props holds the 5.0 properties of the packet (for CONNECT: the CONNECT properties).
	Props Properties

	// ReasonCode is the reason code of CONNACK (the 3.1.1 return code is stored here too),
	// PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH.
	ReasonCode ReasonCode

	// SessionPresent is the CONNACK Session Present flag.
	SessionPresent bool

	// Connect holds the CONNECT fields.
	Connect Connect

	// Subs are the subscriptions of a SUBSCRIBE.
	Subs Subscriptions

	// Filters are the topic filters of an UNSUBSCRIBE.
	Filters TopicFilters

	// ReasonCodes are the per-filter codes of a SUBACK (both versions) and of a 5.0 UNSUBACK.
	ReasonCodes []ReasonCode

	// wide is set by a decode that may have filled Props, Connect, Subs or
	// Filters (a 5.0 packet, a CONNECT, a SUBSCRIBE, an UNSUBSCRIBE), so
	// that Reader.Read clears them only then (clearRead).
	wide bool
}

// Reset clears p for reuse and keeps the capacity of its slices, except a slice a large packet grew
// beyond what typical packets need (kept*): an idle connection returns to its small footprint.
func (p *Packet) Reset() {
	codes, ids := keep(p.ReasonCodes, keptCodes), keep(p.Props.SubscriptionIDs, keptSubIDs)
	*p = Packet{} // cleared in place: a composite literal with fields would be a 1 KiB temporary
	p.ReasonCodes, p.Props.SubscriptionIDs = codes, ids
}

// clearRead is Reset for Reader.Read: it clears the fields that every
// packet type uses and, only when the last decode into p was wide, the
// rest, which is most of a Packet's kilobyte (a 3.1.1 PUBLISH or
// acknowledgement leaves it zero). Only the decoder writes those fields
// of a Packet that a Reader reads into; anyone else who does calls Reset.
func (p *Packet) clearRead() {
	if p.wide {
		p.Reset()
		return
	}
	p.Type, p.Dup, p.QoS, p.Retain, p.PacketID = 0, false, 0, false, 0
	p.Topic, p.Payload = nil, nil
	p.ReasonCode, p.SessionPresent = 0, false
	p.ReasonCodes = keep(p.ReasonCodes, keptCodes)
}

// keptCodes is how many reason codes a reused Packet keeps room for.
const keptCodes = 64
