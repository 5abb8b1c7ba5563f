package packet

import "strconv"

// ReasonCode is an MQTT 5.0 reason code (section 2.4). Values below 0x80 mean success, 0x80 and above
// failure. In a 3.1.1 CONNACK the return code (ConnAccepted ... ConnRefusedNotAuthorized) is stored in a
// ReasonCode too, and a 3.1.1 SUBACK uses 0x00-0x02 and 0x80.
type ReasonCode byte

// MQTT 5.0 reason codes, named as in the specification's Table 2-6.
const (
	Success                     ReasonCode = 0x00
	NormalDisconnection         ReasonCode = 0x00 // DISCONNECT's name for Success
	GrantedQoS0                 ReasonCode = 0x00 // SUBACK's name for Success
	GrantedQoS1                 ReasonCode = 0x01
	GrantedQoS2                 ReasonCode = 0x02
	DisconnectWithWill          ReasonCode = 0x04
	NoMatchingSubscribers       ReasonCode = 0x10
	NoSubscriptionExisted       ReasonCode = 0x11
	ContinueAuth                ReasonCode = 0x18
	ReAuthenticate              ReasonCode = 0x19
	UnspecifiedError            ReasonCode = 0x80
	MalformedPacket             ReasonCode = 0x81
	ProtocolError               ReasonCode = 0x82
	ImplementationSpecificError ReasonCode = 0x83
	UnsupportedProtocolVersion  ReasonCode = 0x84
	ClientIDNotValid            ReasonCode = 0x85
	BadUsernameOrPassword       ReasonCode = 0x86
	NotAuthorized               ReasonCode = 0x87
	ServerUnavailable           ReasonCode = 0x88
	ServerBusy                  ReasonCode = 0x89
	Banned                      ReasonCode = 0x8A
	ServerShuttingDown          ReasonCode = 0x8B
	BadAuthMethod               ReasonCode = 0x8C
	KeepAliveTimeout            ReasonCode = 0x8D
	SessionTakenOver            ReasonCode = 0x8E
	TopicFilterInvalid          ReasonCode = 0x8F
	TopicNameInvalid            ReasonCode = 0x90
	PacketIDInUse               ReasonCode = 0x91
	PacketIDNotFound            ReasonCode = 0x92
	ReceiveMaxExceeded          ReasonCode = 0x93
	TopicAliasInvalid           ReasonCode = 0x94
	PacketTooLarge              ReasonCode = 0x95
	MessageRateTooHigh          ReasonCode = 0x96
	QuotaExceeded               ReasonCode = 0x97
	AdministrativeAction        ReasonCode = 0x98
	PayloadFormatInvalid        ReasonCode = 0x99
	RetainNotSupported          ReasonCode = 0x9A
	QoSNotSupported             ReasonCode = 0x9B
	UseAnotherServer            ReasonCode = 0x9C
	ServerMoved                 ReasonCode = 0x9D
	SharedSubsNotSupported      ReasonCode = 0x9E
	ConnectionRateExceeded      ReasonCode = 0x9F
	MaxConnectTime              ReasonCode = 0xA0
	SubIDsNotSupported          ReasonCode = 0xA1
	WildcardSubsNotSupported    ReasonCode = 0xA2
)

// MQTT 3.1.1 CONNACK return codes (3.1.1 Table 3.1). Store them in Packet.ReasonCode.
const (
	ConnAccepted             byte = 0
	ConnRefusedVersion       byte = 1 // unacceptable protocol version
	ConnRefusedIDRejected    byte = 2 // identifier rejected
	ConnRefusedUnavailable   byte = 3 // server unavailable
	ConnRefusedBadUserPass   byte = 4 // bad user name or password
	ConnRefusedNotAuthorized byte = 5 // not authorized
)

// SubackFailure is the 3.1.1 SUBACK return code for a refused subscription.
const SubackFailure ReasonCode = 0x80

var reasonNames = [256]string{
	0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2", 0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers", 0x11: "No subscription existed", 0x18: "Continue authentication",
	0x19: "Re-authenticate", 0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
	0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version", 0x85: "Client Identifier not valid",
	0x86: "Bad User Name or Password", 0x87: "Not authorized", 0x88: "Server unavailable", 0x89: "Server busy",
	0x8A: "Banned", 0x8B: "Server shutting down", 0x8C: "Bad authentication method", 0x8D: "Keep Alive timeout",
	0x8E: "Session taken over", 0x8F: "Topic Filter invalid", 0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use", 0x92: "Packet Identifier not found", 0x93: "Receive Maximum exceeded",
	0x94: "Topic Alias invalid", 0x95: "Packet too large", 0x96: "Message rate too high", 0x97: "Quota exceeded",
	0x98: "Administrative action", 0x99: "Payload format invalid", 0x9A: "Retain not supported",
	0x9B: "QoS not supported", 0x9C: "Use another server", 0x9D: "Server moved",
	0x9E: "Shared Subscriptions not supported", 0x9F: "Connection rate exceeded", 0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported", 0xA2: "Wildcard Subscriptions not supported",
}

// String returns the specification's name of the reason code (0x00 is "Success"), or
// "ReasonCode(0xNN)" for a value the specification does not define.
func (c ReasonCode) String() string {
	if s := reasonNames[c]; s != "" {
		return s
	}
	return "ReasonCode(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}

// IsError reports whether c signals failure (0x80 or above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// codeSet is a 256-bit set of reason codes.
type codeSet [4]uint64

func (s *codeSet) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// Per-packet sets of the 5.0 reason codes a sender may use (Table 2-6 and the per-packet tables).
// Literals of constants, which the linker lays out as data: sets built at init would cost code in
// every binary. TestCodeSets checks each against the codes in its comment.
var (
	// 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
	// 0x9A, 0x9B, 0x9C, 0x9D, 0x9F
	connackCodes = codeSet{
		1 << 0x00,
		0,
		1<<(0x80&63) | 1<<(0x81&63) | 1<<(0x82&63) | 1<<(0x83&63) | 1<<(0x84&63) | 1<<(0x85&63) |
			1<<(0x86&63) | 1<<(0x87&63) | 1<<(0x88&63) | 1<<(0x89&63) | 1<<(0x8A&63) | 1<<(0x8C&63) |
			1<<(0x90&63) | 1<<(0x95&63) | 1<<(0x97&63) | 1<<(0x99&63) | 1<<(0x9A&63) | 1<<(0x9B&63) |
			1<<(0x9C&63) | 1<<(0x9D&63) | 1<<(0x9F&63),
	}
	// 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99 (PUBACK and PUBREC)
	pubackCodes = codeSet{
		1<<0x00 | 1<<0x10,
		0,
		1<<(0x80&63) | 1<<(0x83&63) | 1<<(0x87&63) | 1<<(0x90&63) | 1<<(0x91&63) | 1<<(0x97&63) |
			1<<(0x99&63),
	}
	// 0x00, 0x92 (PUBREL and PUBCOMP)
	pubrelCodes = codeSet{
		1 << 0x00,
		0,
		1 << (0x92 & 63),
	}
	// 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2
	subackCodes = codeSet{
		1<<0x00 | 1<<0x01 | 1<<0x02,
		0,
		1<<(0x80&63) | 1<<(0x83&63) | 1<<(0x87&63) | 1<<(0x8F&63) | 1<<(0x91&63) | 1<<(0x97&63) |
			1<<(0x9E&63) | 1<<(0xA1&63) | 1<<(0xA2&63),
	}
	// 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91
	unsubCodes = codeSet{
		1<<0x00 | 1<<0x11,
		0,
		1<<(0x80&63) | 1<<(0x83&63) | 1<<(0x87&63) | 1<<(0x8F&63) | 1<<(0x91&63),
	}
	// DISCONNECT: Table 3-10 plus 0x8C, which Table 2-6 also allows in DISCONNECT.
	// 0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
	// 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2
	disconnectCodes = codeSet{
		1<<0x00 | 1<<0x04,
		0,
		1<<(0x80&63) | 1<<(0x81&63) | 1<<(0x82&63) | 1<<(0x83&63) | 1<<(0x87&63) | 1<<(0x89&63) |
			1<<(0x8B&63) | 1<<(0x8C&63) | 1<<(0x8D&63) | 1<<(0x8E&63) | 1<<(0x8F&63) | 1<<(0x90&63) |
			1<<(0x93&63) | 1<<(0x94&63) | 1<<(0x95&63) | 1<<(0x96&63) | 1<<(0x97&63) | 1<<(0x98&63) |
			1<<(0x99&63) | 1<<(0x9A&63) | 1<<(0x9B&63) | 1<<(0x9C&63) | 1<<(0x9D&63) | 1<<(0x9E&63) |
			1<<(0x9F&63) | 1<<(0xA0&63) | 1<<(0xA1&63) | 1<<(0xA2&63),
	}
	// 0x00, 0x18, 0x19
	authCodes = codeSet{
		1<<0x00 | 1<<0x18 | 1<<0x19,
	}
	// 0x00, 0x01, 0x02, 0x80
	suback311Set = codeSet{
		1<<0x00 | 1<<0x01 | 1<<0x02,
		0,
		1 << (0x80 & 63),
	}
)

// ValidFor reports whether a 5.0 sender may put c in a packet of type t (for SUBACK and UNSUBACK: in its
// list of reason codes). It is false for packet types that carry no reason code.
func (c ReasonCode) ValidFor(t Type) bool {
	switch t {
	case CONNACK:
		return connackCodes.has(c)
	case PUBACK, PUBREC:
		return pubackCodes.has(c)
	case PUBREL, PUBCOMP:
		return pubrelCodes.has(c)
	case SUBACK:
		return subackCodes.has(c)
	case UNSUBACK:
		return unsubCodes.has(c)
	case DISCONNECT:
		return disconnectCodes.has(c)
	case AUTH:
		return authCodes.has(c)
	}
	return false
}
