package packet

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
	User                    []UserProperty // 0x26 every packet with properties, in order
	MaximumPacketSize       uint32         // 0x27 CONNECT, CONNACK
	HasMaximumPacketSize    bool
	WildcardSubAvailable    byte // 0x28 CONNACK
	HasWildcardSubAvailable bool
	SubIDAvailable          byte // 0x29 CONNACK
	HasSubIDAvailable       bool
	SharedSubAvailable      byte // 0x2A CONNACK
	HasSharedSubAvailable   bool
}

// Reset clears p and keeps the capacity of User and SubscriptionIDs for reuse.
func (p *Properties) Reset() {
	user, ids := p.User[:0], p.SubscriptionIDs[:0]
	*p = Properties{User: user, SubscriptionIDs: ids}
}

// propSet is a set of property identifiers (all are below 64).
type propSet uint64

var (
	connectProps     propSet
	willProps        propSet
	connackProps     propSet
	publishProps     propSet
	ackProps         propSet
	subscribeProps   propSet
	subackProps      propSet
	unsubscribeProps propSet
	unsubackProps    propSet
	disconnectProps  propSet
	authProps        propSet
)

// props decodes a property set. TODO(5.0): not implemented yet.
func (d *decoder) props(p *Properties, allowed propSet) {
	d.fail(MalformedPacket, "MQTT 5.0 is not implemented yet")
}

// size returns the encoded size of the allowed properties of p (without the Property Length).
func (p *Properties) size(allowed propSet) int { return 0 }

// appendProps appends the Property Length n and the allowed properties of p.
func (p *Properties) appendProps(dst []byte, allowed propSet, n int) []byte {
	return appendVarint(dst, n)
}
