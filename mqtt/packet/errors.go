package packet

// Error is every decode failure of this package (and ReadFixedHeader's malformed Remaining Length, and
// Reader's oversize packet). Code is the reason code a 5.0 peer should get in its DISCONNECT (or CONNACK,
// for a bad CONNECT): MalformedPacket for a packet that cannot be parsed, ProtocolError for a parsed
// packet with a value the protocol forbids, and a more specific code where the specification names one
// (TopicNameInvalid, TopicAliasInvalid, PacketTooLarge). For a 3.1.1 peer the only action is to close the
// connection. Msg names the field and, where the specification has one, the conformance statement,
// e.g. "PUBLISH: topic name contains a wildcard [MQTT-3.3.2-2]". Use errors.As to get at Code.
type Error struct {
	Code ReasonCode
	Msg  string
}

// Error returns "packet: " followed by Msg and the name of Code.
func (e *Error) Error() string {
	return "packet: " + e.Msg + " (" + e.Code.String() + ")"
}

// decodeError is a shorthand used on failure paths only.
func decodeError(code ReasonCode, msg string) *Error {
	return &Error{Code: code, Msg: msg}
}
