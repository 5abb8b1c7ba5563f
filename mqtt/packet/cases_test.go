package packet

import (
	"fmt"
	"io"
)

// testCase is one row of the byte table that feeds the decode tests, the encode tests and the fuzz seeds.
type testCase struct {
	Name    string
	Version byte   // V311 or V5: the connection's level passed to Decode and Append
	Raw     []byte // a whole packet (or a stream prefix for I/O cases)
	Packet  *Packet
	// ErrCode, when non-zero, is the *Error code decoding must fail with; IOErr the I/O error reading must
	// fail with. Neither set: Raw must decode to Packet, and (unless DecodeOnly) Packet must encode to Raw.
	ErrCode ReasonCode
	IOErr   error
	// Spec is the conformance statement (or section) the row exercises. For error rows the error message
	// must cite it.
	Spec string
	// DecodeOnly marks valid input that Append writes in another (canonical) form.
	DecodeOnly bool
}

// remainingLengthCases is the 3.1.1 §2.2.3 / 5.0 §1.5.5 table of Remaining Length encodings.
var remainingLengthCases = []struct {
	Value int
	Bytes []byte
}{
	{0, by(0x00)},
	{127, by(0x7f)},
	{128, by(0x80, 0x01)},
	{16383, by(0xff, 0x7f)},
	{16384, by(0x80, 0x80, 0x01)},
	{2097151, by(0xff, 0xff, 0x7f)},
	{2097152, by(0x80, 0x80, 0x80, 0x01)},
	{268435455, by(0xff, 0xff, 0xff, 0x7f)},
}

var packetCases = buildCases()

func buildCases() []testCase {
	cs := cases311()
	cs = append(cs, cases5()...)
	cs = append(cs, reservedFlagCases()...)
	return cs
}

// payloadOf returns n bytes of payload.
func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func cases311() []testCase {
	v := V311
	return []testCase{
		// --- Remaining Length examples of the specification (3.1.1 §2.2.3), as whole packets.
		{Name: "PINGREQ remaining length 0", Version: v, Raw: by(0xc0, 0x00), Packet: &Packet{Type: PINGREQ}, Spec: "2.2.3"},
		{Name: "PUBLISH remaining length 127", Version: v, Raw: pk(0x30, str("t"), payloadOf(124)),
			Packet: &Packet{Type: PUBLISH, Topic: bs("t"), Payload: payloadOf(124)}, Spec: "2.2.3"},
		{Name: "PUBLISH remaining length 128", Version: v, Raw: pk(0x30, str("t"), payloadOf(125)),
			Packet: &Packet{Type: PUBLISH, Topic: bs("t"), Payload: payloadOf(125)}, Spec: "2.2.3"},
		{Name: "PUBLISH remaining length 16383", Version: v, Raw: pk(0x30, str("t"), payloadOf(16380)),
			Packet: &Packet{Type: PUBLISH, Topic: bs("t"), Payload: payloadOf(16380)}, Spec: "2.2.3"},
		{Name: "PUBLISH remaining length 16384", Version: v, Raw: pk(0x30, str("t"), payloadOf(16381)),
			Packet: &Packet{Type: PUBLISH, Topic: bs("t"), Payload: payloadOf(16381)}, Spec: "2.2.3"},
		{Name: "remaining length non-minimal 0x80 0x00 accepted", Version: v, Raw: by(0xc0, 0x80, 0x00),
			Packet: &Packet{Type: PINGREQ}, DecodeOnly: true, Spec: "2.2.3"},
		{Name: "remaining length with 5 bytes", Version: v, Raw: by(0x30, 0xff, 0xff, 0xff, 0xff, 0x7f),
			ErrCode: MalformedPacket, Spec: "MQTT-1.5.5"},
		{Name: "remaining length 4 bytes with continuation", Version: v, Raw: by(0x30, 0x80, 0x80, 0x80, 0x80, 0x01),
			ErrCode: MalformedPacket, Spec: "MQTT-1.5.5"},

		// --- CONNECT
		{Name: "CONNECT spec example (Figure 3.6) with will, user name and password", Version: v,
			Raw: pk(0x10, str("MQTT"), by(4, 0xce), u16(10), str("id"), str("w/t"), str("bye"), str("user"), str("pass")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTT"), ProtocolLevel: 4, CleanStart: true,
				KeepAlive: 10, ClientID: bs("id"), WillFlag: true, WillQoS: 1, WillTopic: bs("w/t"), WillPayload: bs("bye"),
				UsernameFlag: true, Username: bs("user"), PasswordFlag: true, Password: bs("pass")}},
			Spec: "3.1.2.10"},
		{Name: "CONNECT minimal, empty client id", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x02), u16(60), str("")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTT"), ProtocolLevel: 4, CleanStart: true, KeepAlive: 60, ClientID: bs("")}}},
		{Name: "CONNECT will QoS 2 retained, no clean session", Version: v,
			Raw: pk(0x10, str("MQTT"), by(4, 0x34), u16(0), str("c1"), str("a/b"), str("")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTT"), ProtocolLevel: 4, ClientID: bs("c1"),
				WillFlag: true, WillQoS: 2, WillRetain: true, WillTopic: bs("a/b"), WillPayload: bs("")}}},
		{Name: "CONNECT user name only", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x82), u16(5), str("c"), str("u")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTT"), ProtocolLevel: 4, CleanStart: true, KeepAlive: 5,
				ClientID: bs("c"), UsernameFlag: true, Username: bs("u")}}},
		{Name: "CONNECT MQTT 3.1 (MQIsdp level 3)", Version: v, Raw: pk(0x10, str("MQIsdp"), by(3, 0x02), u16(30), str("old")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQIsdp"), ProtocolLevel: 3, CleanStart: true, KeepAlive: 30, ClientID: bs("old")}}},
		{Name: "CONNECT unknown level 6 is data, not an error", Version: v, Raw: pk(0x10, str("MQTT"), by(6, 0xff, 0xff)),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTT"), ProtocolLevel: 6}}, DecodeOnly: true, Spec: "MQTT-3.1.2-2"},
		{Name: "CONNECT unknown protocol name is data", Version: v, Raw: pk(0x10, str("MQTX"), by(4, 0x02), u16(0), str("c")),
			Packet: &Packet{Type: CONNECT, Connect: Connect{ProtocolName: bs("MQTX"), ProtocolLevel: 4, CleanStart: true, ClientID: bs("c")}}, Spec: "MQTT-3.1.2-1"},
		{Name: "CONNECT reserved flag", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x03), u16(0), str("c")),
			ErrCode: MalformedPacket, Spec: "MQTT-3.1.2-3"},
		{Name: "CONNECT will QoS without will flag", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x0a), u16(0), str("c")),
			ErrCode: MalformedPacket, Spec: "MQTT-3.1.2-13"},
		{Name: "CONNECT will retain without will flag", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x22), u16(0), str("c")),
			ErrCode: MalformedPacket, Spec: "MQTT-3.1.2-15"},
		{Name: "CONNECT will QoS 3", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x1e), u16(0), str("c"), str("t"), str("m")),
			ErrCode: MalformedPacket, Spec: "MQTT-3.1.2-14"},
		{Name: "CONNECT password without user name", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x42), u16(0), str("c"), str("p")),
			ErrCode: MalformedPacket, Spec: "MQTT-3.1.2-22"},
		{Name: "CONNECT client id invalid UTF-8", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x02), u16(0), str("a\xffb")),
			ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-1"},
		{Name: "CONNECT client id with U+0000", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x02), u16(0), str("a\x00b")),
			ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-2"},
		{Name: "CONNECT will topic with wildcard", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x06), u16(0), str("c"), str("a/#"), str("m")),
			ErrCode: TopicNameInvalid, Spec: "MQTT-3.3.2-2"},
		{Name: "CONNECT empty will topic", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x06), u16(0), str("c"), str(""), str("m")),
			ErrCode: TopicNameInvalid, Spec: "MQTT-4.7.3-1"},
		{Name: "CONNECT user name flag but no user name", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x82), u16(0), str("c")),
			ErrCode: MalformedPacket, Spec: "user name: truncated"},
		{Name: "CONNECT truncated keep alive", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x02, 0)),
			ErrCode: MalformedPacket, Spec: "keep alive: truncated"},
		{Name: "CONNECT trailing bytes", Version: v, Raw: pk(0x10, str("MQTT"), by(4, 0x02), u16(0), str("c"), by(0)),
			ErrCode: MalformedPacket, Spec: "trailing"},

		// --- CONNACK
		{Name: "CONNACK accepted", Version: v, Raw: by(0x20, 2, 0, 0), Packet: &Packet{Type: CONNACK}},
		{Name: "CONNACK session present", Version: v, Raw: by(0x20, 2, 1, 0), Packet: &Packet{Type: CONNACK, SessionPresent: true}},
		{Name: "CONNACK refused: unacceptable protocol version", Version: v, Raw: by(0x20, 2, 0, 1),
			Packet: &Packet{Type: CONNACK, ReasonCode: ReasonCode(ConnRefusedVersion)}},
		{Name: "CONNACK refused: not authorized", Version: v, Raw: by(0x20, 2, 0, 5),
			Packet: &Packet{Type: CONNACK, ReasonCode: ReasonCode(ConnRefusedNotAuthorized)}},
		{Name: "CONNACK reserved acknowledge flags", Version: v, Raw: by(0x20, 2, 2, 0), ErrCode: MalformedPacket, Spec: "3.2.2.1"},
		{Name: "CONNACK session present with refusal", Version: v, Raw: by(0x20, 2, 1, 4), ErrCode: ProtocolError, Spec: "MQTT-3.2.2-4"},
		{Name: "CONNACK truncated", Version: v, Raw: by(0x20, 1, 0), ErrCode: MalformedPacket, Spec: "truncated"},
		{Name: "CONNACK trailing bytes", Version: v, Raw: by(0x20, 3, 0, 0, 0), ErrCode: MalformedPacket, Spec: "trailing"},

		// --- PUBLISH
		{Name: "PUBLISH spec example (Figure 3.11): topic a/b, id 10", Version: v, Raw: pk(0x32, str("a/b"), u16(10), bs("payload")),
			Packet: &Packet{Type: PUBLISH, QoS: 1, Topic: bs("a/b"), PacketID: 10, Payload: bs("payload")}, Spec: "3.3.2.3"},
		{Name: "PUBLISH QoS 0 empty payload", Version: v, Raw: pk(0x30, str("a")), Packet: &Packet{Type: PUBLISH, Topic: bs("a")}},
		{Name: "PUBLISH QoS 2 DUP RETAIN", Version: v, Raw: pk(0x3d, str("x/y/z"), u16(65535), bs("m")),
			Packet: &Packet{Type: PUBLISH, Dup: true, QoS: 2, Retain: true, Topic: bs("x/y/z"), PacketID: 65535, Payload: bs("m")}},
		{Name: "PUBLISH QoS 0 retained", Version: v, Raw: pk(0x31, str("r"), bs("on")),
			Packet: &Packet{Type: PUBLISH, Retain: true, Topic: bs("r"), Payload: bs("on")}},
		{Name: "PUBLISH UTF-8 topic", Version: v, Raw: pk(0x30, str("A\U0002A6D4/é"), bs("x")),
			Packet: &Packet{Type: PUBLISH, Topic: bs("A\U0002A6D4/é"), Payload: bs("x")}, Spec: "1.5.3"},
		{Name: "PUBLISH QoS 3", Version: v, Raw: pk(0x36, str("a"), u16(1)), ErrCode: MalformedPacket, Spec: "MQTT-3.3.1-4"},
		{Name: "PUBLISH DUP at QoS 0", Version: v, Raw: pk(0x38, str("a")), ErrCode: MalformedPacket, Spec: "MQTT-3.3.1-2"},
		{Name: "PUBLISH packet id 0 at QoS 1", Version: v, Raw: pk(0x32, str("a"), u16(0)), ErrCode: ProtocolError, Spec: "MQTT-2.3.1-1"},
		{Name: "PUBLISH packet id 0 at QoS 2", Version: v, Raw: pk(0x34, str("a"), u16(0), bs("x")), ErrCode: ProtocolError, Spec: "MQTT-2.3.1-1"},
		{Name: "PUBLISH topic with NUL", Version: v, Raw: pk(0x30, str("a\x00b")), ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-2"},
		{Name: "PUBLISH topic with +", Version: v, Raw: pk(0x30, str("a/+/b")), ErrCode: TopicNameInvalid, Spec: "MQTT-3.3.2-2"},
		{Name: "PUBLISH topic with #", Version: v, Raw: pk(0x30, str("a/#")), ErrCode: TopicNameInvalid, Spec: "MQTT-3.3.2-2"},
		{Name: "PUBLISH topic invalid UTF-8", Version: v, Raw: pk(0x30, str("a\xc3")), ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-1"},
		{Name: "PUBLISH topic overlong UTF-8", Version: v, Raw: pk(0x30, str("\xc0\xaf")), ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-1"},
		{Name: "PUBLISH topic with surrogate U+D800", Version: v, Raw: pk(0x30, str("a\xed\xa0\x80")), ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-1"},
		{Name: "PUBLISH empty topic", Version: v, Raw: pk(0x30, str(""), bs("x")), ErrCode: TopicNameInvalid, Spec: "MQTT-4.7.3-1"},
		{Name: "PUBLISH topic length beyond body", Version: v, Raw: pk(0x30, u16(10), bs("abc")), ErrCode: MalformedPacket, Spec: "topic name: truncated"},
		{Name: "PUBLISH empty body", Version: v, Raw: by(0x30, 0), ErrCode: MalformedPacket, Spec: "truncated"},
		{Name: "PUBLISH QoS 1 without packet id", Version: v, Raw: pk(0x32, str("a")), ErrCode: MalformedPacket, Spec: "packet identifier: truncated"},
		{Name: "PUBLISH stream ends inside body", Version: v, Raw: hdr(0x30, by(10), str("a/b")), IOErr: io.ErrUnexpectedEOF},
		{Name: "PUBLISH stream ends inside remaining length", Version: v, Raw: by(0x30, 0x80), IOErr: io.ErrUnexpectedEOF},

		// --- PUBACK, PUBREC, PUBREL, PUBCOMP
		{Name: "PUBACK", Version: v, Raw: by(0x40, 2, 0, 7), Packet: &Packet{Type: PUBACK, PacketID: 7}},
		{Name: "PUBREC", Version: v, Raw: by(0x50, 2, 1, 0), Packet: &Packet{Type: PUBREC, PacketID: 256}},
		{Name: "PUBREL", Version: v, Raw: by(0x62, 2, 0xff, 0xff), Packet: &Packet{Type: PUBREL, PacketID: 65535}},
		{Name: "PUBCOMP", Version: v, Raw: by(0x70, 2, 0, 1), Packet: &Packet{Type: PUBCOMP, PacketID: 1}},
		{Name: "PUBACK packet id 0", Version: v, Raw: by(0x40, 2, 0, 0), ErrCode: ProtocolError, Spec: "MQTT-2.3.1-1"},
		{Name: "PUBACK trailing byte (5.0 form on a 3.1.1 connection)", Version: v, Raw: by(0x40, 3, 0, 1, 0), ErrCode: MalformedPacket, Spec: "trailing"},
		{Name: "PUBREC truncated", Version: v, Raw: by(0x50, 1, 1), ErrCode: MalformedPacket, Spec: "truncated"},
		{Name: "PUBCOMP empty", Version: v, Raw: by(0x70, 0), ErrCode: MalformedPacket, Spec: "truncated"},

		// --- SUBSCRIBE / SUBACK
		{Name: "SUBSCRIBE spec example (Figures 3.21, 3.23): a/b QoS 1, c/d QoS 2", Version: v,
			Raw:    pk(0x82, u16(10), str("a/b"), by(1), str("c/d"), by(2)),
			Packet: &Packet{Type: SUBSCRIBE, PacketID: 10, Subs: SubscriptionsOf([]Subscription{{Filter: bs("a/b"), QoS: 1}, {Filter: bs("c/d"), QoS: 2}}...)}, Spec: "3.8.3"},
		{Name: "SUBSCRIBE wildcard filter", Version: v, Raw: pk(0x82, u16(1), str("sport/+/#"), by(0)),
			Packet: &Packet{Type: SUBSCRIBE, PacketID: 1, Subs: SubscriptionsOf([]Subscription{{Filter: bs("sport/+/#")}}...)}},
		{Name: "SUBSCRIBE with no payload", Version: v, Raw: pk(0x82, u16(1)), ErrCode: ProtocolError, Spec: "MQTT-3.8.3-3"},
		{Name: "SUBSCRIBE reserved option bits", Version: v, Raw: pk(0x82, u16(1), str("a"), by(0x04)), ErrCode: MalformedPacket, Spec: "MQTT-3-8.3-4"},
		{Name: "SUBSCRIBE QoS 3", Version: v, Raw: pk(0x82, u16(1), str("a"), by(3)), ErrCode: MalformedPacket, Spec: "MQTT-3-8.3-4"},
		{Name: "SUBSCRIBE packet id 0", Version: v, Raw: pk(0x82, u16(0), str("a"), by(0)), ErrCode: ProtocolError, Spec: "MQTT-2.3.1-1"},
		{Name: "SUBSCRIBE filter invalid UTF-8", Version: v, Raw: pk(0x82, u16(1), str("\xfe"), by(0)), ErrCode: MalformedPacket, Spec: "MQTT-1.5.3-1"},
		{Name: "SUBSCRIBE filter without options byte", Version: v, Raw: pk(0x82, u16(1), str("a")), ErrCode: MalformedPacket, Spec: "subscription options: truncated"},
		{Name: "SUBACK spec example (Figure 3.27): 0, 1, 2, failure", Version: v, Raw: pk(0x90, u16(10), by(0, 1, 2, 0x80)),
			Packet: &Packet{Type: SUBACK, PacketID: 10, ReasonCodes: []ReasonCode{0, 1, 2, 0x80}}, Spec: "3.9.3"},
		{Name: "SUBACK reserved return code", Version: v, Raw: pk(0x90, u16(1), by(0x03)), ErrCode: ProtocolError, Spec: "MQTT-3.9.3-2"},
		{Name: "SUBACK 5.0 reason code on a 3.1.1 connection", Version: v, Raw: pk(0x90, u16(1), by(0x87)), ErrCode: ProtocolError, Spec: "MQTT-3.9.3-2"},
		{Name: "SUBACK without return codes", Version: v, Raw: pk(0x90, u16(1)), ErrCode: ProtocolError, Spec: "MQTT-3.9.3-1"},

		// --- UNSUBSCRIBE / UNSUBACK
		{Name: "UNSUBSCRIBE spec example (Figure 3.30): a/b, c/d", Version: v, Raw: pk(0xa2, u16(10), str("a/b"), str("c/d")),
			Packet: &Packet{Type: UNSUBSCRIBE, PacketID: 10, Filters: TopicFiltersOf([][]byte{bs("a/b"), bs("c/d")}...)}, Spec: "3.10.3"},
		{Name: "UNSUBSCRIBE with no filters", Version: v, Raw: pk(0xa2, u16(10)), ErrCode: ProtocolError, Spec: "MQTT-3.10.3-2"},
		{Name: "UNSUBSCRIBE filter truncated", Version: v, Raw: pk(0xa2, u16(10), u16(5), bs("a")), ErrCode: MalformedPacket, Spec: "topic filter: truncated"},
		{Name: "UNSUBACK", Version: v, Raw: by(0xb0, 2, 0, 10), Packet: &Packet{Type: UNSUBACK, PacketID: 10}},
		{Name: "UNSUBACK trailing bytes", Version: v, Raw: by(0xb0, 3, 0, 10, 0), ErrCode: MalformedPacket, Spec: "trailing"},

		// --- PINGREQ, PINGRESP, DISCONNECT
		{Name: "PINGRESP", Version: v, Raw: by(0xd0, 0), Packet: &Packet{Type: PINGRESP}},
		{Name: "DISCONNECT", Version: v, Raw: by(0xe0, 0), Packet: &Packet{Type: DISCONNECT}},
		{Name: "PINGREQ with body", Version: v, Raw: by(0xc0, 1, 0), ErrCode: MalformedPacket, Spec: "trailing"},
		{Name: "DISCONNECT with body (5.0 form on a 3.1.1 connection)", Version: v, Raw: by(0xe0, 1, 0), ErrCode: MalformedPacket, Spec: "trailing"},

		// --- Reserved types
		{Name: "reserved type 0", Version: v, Raw: by(0x00, 0), ErrCode: MalformedPacket, Spec: "MQTT-2.2.2-2"},
		{Name: "AUTH is reserved in 3.1.1", Version: v, Raw: by(0xf0, 0), ErrCode: MalformedPacket, Spec: "MQTT-2.2.2-2"},
	}
}

// reservedFlagCases sets each reserved flag bit on a valid packet of every type but PUBLISH.
func reservedFlagCases() []testCase {
	type base struct {
		version byte
		raw     []byte
		spec    string
	}
	bases := []base{
		{V311, pk(0x10, str("MQTT"), by(4, 2), u16(0), str("c")), "MQTT-2.2.2-1"},
		{V311, by(0x20, 2, 0, 0), "MQTT-2.2.2-1"},
		{V311, by(0x40, 2, 0, 1), "MQTT-2.2.2-1"},
		{V311, by(0x50, 2, 0, 1), "MQTT-2.2.2-1"},
		{V311, by(0x62, 2, 0, 1), "MQTT-3.6.1-1"},
		{V311, by(0x70, 2, 0, 1), "MQTT-2.2.2-1"},
		{V311, pk(0x82, u16(1), str("a"), by(0)), "MQTT-3.8.1-1"},
		{V311, pk(0x90, u16(1), by(0)), "MQTT-2.2.2-1"},
		{V311, pk(0xa2, u16(1), str("a")), "MQTT-3.10.1-1"},
		{V311, by(0xb0, 2, 0, 1), "MQTT-2.2.2-1"},
		{V311, by(0xc0, 0), "MQTT-2.2.2-1"},
		{V311, by(0xd0, 0), "MQTT-2.2.2-1"},
		{V311, by(0xe0, 0), "MQTT-2.2.2-1"},
		{V5, pk(0x10, str("MQTT"), by(5, 2), u16(0), props(), str("c")), "MQTT-2.1.3-1"},
		{V5, pk(0x20, by(0, 0), props()), "MQTT-2.1.3-1"},
		{V5, pk(0x40, u16(1), by(0x10), props()), "MQTT-2.1.3-1"},
		{V5, by(0x50, 2, 0, 1), "MQTT-2.1.3-1"},
		{V5, by(0x62, 3, 0, 1, 0x92), "MQTT-3.6.1-1"},
		{V5, by(0x70, 2, 0, 1), "MQTT-2.1.3-1"},
		{V5, pk(0x82, u16(1), props(), str("a"), by(0)), "MQTT-3.8.1-1"},
		{V5, pk(0x90, u16(1), props(), by(0)), "MQTT-2.1.3-1"},
		{V5, pk(0xa2, u16(1), props(), str("a")), "MQTT-3.10.1-1"},
		{V5, pk(0xb0, u16(1), props(), by(0)), "MQTT-2.1.3-1"},
		{V5, by(0xc0, 0), "MQTT-2.1.3-1"},
		{V5, by(0xd0, 0), "MQTT-2.1.3-1"},
		{V5, by(0xe0, 1, 0x04), "MQTT-3.14.1-1"},
		{V5, by(0xf0, 0), "MQTT-3.15.1-1"},
	}
	var cs []testCase
	for _, b := range bases {
		for bit := byte(1); bit < 16; bit <<= 1 {
			raw := append([]byte(nil), b.raw...)
			raw[0] ^= bit
			t := Type(raw[0] >> 4)
			cs = append(cs, testCase{
				Name:    fmt.Sprintf("v%d %s reserved flag bits 0x%x", b.version, t, raw[0]&15),
				Version: b.version, Raw: raw, ErrCode: MalformedPacket, Spec: b.spec,
			})
		}
	}
	return cs
}
