package packet

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// readOne decodes the first packet of raw through a Reader.
func readOne(raw []byte, version byte, p *Packet) error {
	return NewReader(bufio.NewReader(bytes.NewReader(raw)), 0).Read(version, p)
}

// checkResult compares a decode outcome with a table row.
func checkResult(t *testing.T, tc *testCase, p *Packet, err error) {
	t.Helper()
	switch {
	case tc.IOErr != nil:
		if !errors.Is(err, tc.IOErr) {
			t.Fatalf("err = %v, want %v", err, tc.IOErr)
		}
	case tc.ErrCode != 0:
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v (%T), want *Error with code %v; decoded:%s", err, err, tc.ErrCode, dump(p))
		}
		if pe.Code != tc.ErrCode {
			t.Fatalf("code = %v, want %v (%v)", pe.Code, tc.ErrCode, err)
		}
		if tc.Spec != "" && !strings.Contains(pe.Msg, tc.Spec) {
			t.Fatalf("error %q does not cite %q", pe.Msg, tc.Spec)
		}
	default:
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !equalPacket(p, tc.Packet) {
			t.Fatalf("decoded\n %s\nwant\n %s", dump(p), dump(tc.Packet))
		}
	}
}

func TestDecodeCases(t *testing.T) {
	var p Packet // reused across rows, as a connection would
	for i := range packetCases {
		tc := &packetCases[i]
		t.Run(tc.Name, func(t *testing.T) {
			err := readOne(tc.Raw, tc.Version, &p)
			checkResult(t, tc, &p, err)
		})
	}
}

func TestDecodeCasesOneByteAtATime(t *testing.T) {
	for i := range packetCases {
		tc := &packetCases[i]
		t.Run(tc.Name, func(t *testing.T) {
			var p Packet
			br := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(tc.Raw)), 16)
			err := NewReader(br, 0).Read(tc.Version, &p)
			checkResult(t, tc, &p, err)
		})
	}
}

func TestEncodeCases(t *testing.T) {
	buf := make([]byte, 0, 64)
	for i := range packetCases {
		tc := &packetCases[i]
		if tc.Packet == nil || tc.DecodeOnly {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			buf = tc.Packet.Append(buf[:0], tc.Version)
			if !bytes.Equal(buf, tc.Raw) {
				t.Fatalf("Append\n got % x\nwant % x", buf, tc.Raw)
			}
			if n := tc.Packet.Size(tc.Version); n != len(tc.Raw) {
				t.Fatalf("Size = %d, want %d", n, len(tc.Raw))
			}
		})
	}
}

// TestDecodeOnlyCasesEncodeCanonically checks that non-canonical valid input re-encodes to something
// that decodes to the same packet.
func TestDecodeOnlyCasesEncodeCanonically(t *testing.T) {
	for i := range packetCases {
		tc := &packetCases[i]
		if !tc.DecodeOnly {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			out := tc.Packet.Append(nil, tc.Version)
			var p Packet
			if err := readOne(out, tc.Version, &p); err != nil {
				t.Fatalf("decode of % x: %v", out, err)
			}
			if !equalPacket(&p, tc.Packet) {
				t.Fatalf("decoded\n %s\nwant\n %s", dump(&p), dump(tc.Packet))
			}
		})
	}
}

func TestRemainingLength(t *testing.T) {
	for _, c := range remainingLengthCases {
		if got := appendVarint(nil, c.Value); !bytes.Equal(got, c.Bytes) {
			t.Errorf("appendVarint(%d) = % x, want % x", c.Value, got, c.Bytes)
		}
		if n := varintSize(c.Value); n != len(c.Bytes) {
			t.Errorf("varintSize(%d) = %d, want %d", c.Value, n, len(c.Bytes))
		}
		fh, err := ReadFixedHeader(bytes.NewReader(append([]byte{0x30}, c.Bytes...)))
		if err != nil || fh.Remaining != c.Value || fh.Type != PUBLISH {
			t.Errorf("ReadFixedHeader(% x) = %+v, %v; want remaining %d", c.Bytes, fh, err, c.Value)
		}
		// One byte short: the stream ends inside the Remaining Length.
		_, err = ReadFixedHeader(bytes.NewReader(append([]byte{0x30}, c.Bytes[:len(c.Bytes)-1]...)))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated % x: err = %v, want io.ErrUnexpectedEOF", c.Bytes, err)
		}
	}
	if _, err := ReadFixedHeader(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: err = %v, want io.EOF", err)
	}
}

func TestTypeAndReasonStrings(t *testing.T) {
	if s := PUBLISH.String(); s != "PUBLISH" {
		t.Errorf("PUBLISH.String() = %q", s)
	}
	if s := AUTH.String(); s != "AUTH" {
		t.Errorf("AUTH.String() = %q", s)
	}
	if s := Type(16).String(); s != "Type(16)" {
		t.Errorf("Type(16).String() = %q", s)
	}
	if s := MalformedPacket.String(); s != "Malformed Packet" {
		t.Errorf("MalformedPacket.String() = %q", s)
	}
	if s := ReasonCode(0x03).String(); s != "ReasonCode(0x3)" {
		t.Errorf("ReasonCode(3).String() = %q", s)
	}
	e := &Error{Code: ProtocolError, Msg: "x"}
	if e.Error() != "packet: x (Protocol Error)" {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestValidUTF8String(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"", true}, {"abc", true}, {"A\U0002A6D4", true}, {"\ufeffbom", true}, {"\u0001ctl", true},
		{"a\x00", false}, {"\xff", false}, {"\xc0\x80", false}, {"\xed\xa0\x80", false}, {"\xed\xbf\xbf", false},
		{"\xf4\x90\x80\x80", false}, {"a\xe2\x82", false},
	} {
		if got := ValidUTF8String([]byte(c.s)); got != c.ok {
			t.Errorf("ValidUTF8String(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"a/b", true}, {"/", true}, {"$SYS/x", true}, {"", false}, {"a/+", false}, {"#", false}, {"a\x00", false},
		{strings.Repeat("a", 65536), false},
	} {
		if got := ValidTopicName([]byte(c.s)); got != c.ok {
			t.Errorf("ValidTopicName(%.20q) = %v, want %v", c.s, got, c.ok)
		}
	}
}

// TestDecodeBodyLengthMismatch checks the Decode contract len(body) == fh.Remaining.
func TestDecodeBodyLengthMismatch(t *testing.T) {
	var p Packet
	err := Decode(FixedHeader{Type: PUBACK, Remaining: 3}, []byte{0, 1}, V311, &p)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != MalformedPacket {
		t.Fatalf("err = %v, want malformed", err)
	}
}

// TestDecodeReusesPacket checks that a reused Packet does not leak fields of an earlier packet.
func TestDecodeReusesPacket(t *testing.T) {
	var p Packet
	if err := readOne(pk(0x82, u16(10), str("a/b"), by(1), str("c/d"), by(2)), V311, &p); err != nil {
		t.Fatal(err)
	}
	if err := readOne(by(0x40, 2, 0, 7), V311, &p); err != nil {
		t.Fatal(err)
	}
	if want := (&Packet{Type: PUBACK, PacketID: 7}); !equalPacket(&p, want) {
		t.Fatalf("got %s, want %s", dump(&p), dump(want))
	}
}

// TestAppendWritesOnlyAllowedProperties checks that Append leaves out properties the packet type may not
// carry (and all properties for 3.1.1), and writes a single Subscription Identifier in SUBSCRIBE.
func TestAppendWritesOnlyAllowedProperties(t *testing.T) {
	ack := Packet{Type: PUBACK, PacketID: 1, ReasonCode: QuotaExceeded,
		Props: Properties{SessionExpiry: 5, HasSessionExpiry: true, TopicAlias: 2, HasTopicAlias: true, ReasonString: bs("r")}}
	for _, c := range []struct {
		name    string
		p       *Packet
		version byte
		want    []byte
	}{
		{"v5 PUBACK keeps only the reason string", &ack, V5, pk(0x40, u16(1), by(0x97), props(by(0x1f), str("r")))},
		{"v311 PUBACK is the bare packet id", &ack, V311, by(0x40, 2, 0, 1)},
		{"v5 SUBSCRIBE writes one subscription identifier",
			&Packet{Type: SUBSCRIBE, PacketID: 2, Props: Properties{SubscriptionIDs: []uint32{7, 8}, ReasonString: bs("x")},
				Subs: SubscriptionsOf([]Subscription{{Filter: bs("a"), QoS: 1, NoLocal: true, RetainHandling: 2}}...)},
			V5, pk(0x82, u16(2), props(by(0x0b, 7)), str("a"), by(0x25))},
		{"v311 SUBSCRIBE writes only the QoS option",
			&Packet{Type: SUBSCRIBE, PacketID: 2, Subs: SubscriptionsOf([]Subscription{{Filter: bs("a"), QoS: 1, NoLocal: true, RetainHandling: 2}}...)},
			V311, pk(0x82, u16(2), str("a"), by(0x01))},
		{"v311 SUBACK maps 5.0 failure codes to 0x80",
			&Packet{Type: SUBACK, PacketID: 3, ReasonCodes: []ReasonCode{GrantedQoS1, NotAuthorized, TopicFilterInvalid}},
			V311, pk(0x90, u16(3), by(1, 0x80, 0x80))},
		{"v311 UNSUBACK drops 5.0 reason codes",
			&Packet{Type: UNSUBACK, PacketID: 4, ReasonCodes: []ReasonCode{NoSubscriptionExisted}}, V311, by(0xb0, 2, 0, 4)},
		{"v311 DISCONNECT drops reason code", &Packet{Type: DISCONNECT, ReasonCode: ServerShuttingDown}, V311, by(0xe0, 0)},
		{"v311 CONNACK session present only when accepted",
			&Packet{Type: CONNACK, SessionPresent: true, ReasonCode: ReasonCode(ConnRefusedBadUserPass)}, V311, by(0x20, 2, 0, 4)},
		{"v5 AUTH continue without properties keeps the property length",
			&Packet{Type: AUTH, ReasonCode: ContinueAuth}, V5, by(0xf0, 2, 0x18, 0)},
		{"AUTH for 3.1.1 writes nothing", &Packet{Type: AUTH}, V311, nil},
		{"v5 PUBLISH QoS 0 drops DUP and packet id",
			&Packet{Type: PUBLISH, Dup: true, PacketID: 9, Topic: bs("t"), Props: Properties{SessionExpiry: 1, HasSessionExpiry: true}},
			V5, pk(0x30, str("t"), props())},
		{"CONNECT level defaults to the version, name to MQTT / MQIsdp",
			&Packet{Type: CONNECT, Connect: Connect{ClientID: bs("c")}}, V31, pk(0x10, str("MQIsdp"), by(3, 0), u16(0), str("c"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.Append(nil, c.version)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Append\n got % x\nwant % x", got, c.want)
			}
			if n := c.p.Size(c.version); n != len(c.want) {
				t.Fatalf("Size = %d, want %d", n, len(c.want))
			}
		})
	}
}

func TestAppendPublishHeaderAndSize(t *testing.T) {
	topic, payload := bs("a/b"), bs("shared payload")
	for _, version := range []byte{V311, V5} {
		var pr Properties
		pr.User = UserPropertiesOf([]UserProperty{{bs("k"), bs("v")}}...)
		p := Packet{Type: PUBLISH, QoS: 2, Dup: true, Retain: true, PacketID: 77, Topic: topic, Payload: payload, Props: pr}
		want := p.Append(nil, version)
		got := append(AppendPublishHeader(nil, version, true, 2, true, topic, 77, &pr, len(payload)), payload...)
		if !bytes.Equal(got, want) {
			t.Fatalf("v%d: header+payload\n% x\nwant\n% x", version, got, want)
		}
		if n := PublishSize(version, topic, 2, &pr, len(payload)); n != len(want) {
			t.Fatalf("v%d: PublishSize = %d, want %d", version, n, len(want))
		}
	}
	if got, want := AppendPublishHeader(nil, V5, false, 0, false, topic, 0, nil, 0), pk(0x30, str("a/b"), props()); !bytes.Equal(got, want) {
		t.Fatalf("nil props: % x, want % x", got, want)
	}
	if n := PublishSize(V311, topic, 0, nil, 200); n != 1+2+2+3+200 {
		t.Fatalf("PublishSize with 2-byte remaining length = %d", n)
	}
}

func TestAppendPanicsOnUnencodableFields(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a 65536-byte topic")
		}
	}()
	AppendPublishHeader(nil, V311, false, 0, false, make([]byte, 65536), 0, nil, 0)
}

func TestReaderMaxSize(t *testing.T) {
	stream := append(pk(0x30, str("t"), payloadOf(100)), by(0xc0, 0)...)
	rd := NewReader(bufio.NewReader(bytes.NewReader(stream)), 50)
	var p Packet
	err := rd.Read(V311, &p)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != PacketTooLarge {
		t.Fatalf("err = %v, want PacketTooLarge", err)
	}
	rd = NewReader(bufio.NewReader(bytes.NewReader(stream)), 50)
	rd.SetMaxSize(0)
	if err := rd.Read(V311, &p); err != nil || len(p.Payload) != 100 {
		t.Fatalf("after SetMaxSize(0): %v, payload %d", err, len(p.Payload))
	}
	rd.Release()
	if err := rd.Read(V311, &p); err != nil || p.Type != PINGREQ {
		t.Fatalf("after Release: %v, %v", err, p.Type)
	}
	if err := rd.Read(V311, &p); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

// TestReaderGrowsWithArrivingData checks that a huge announced Remaining Length does not allocate the
// announced size before the bytes arrive, and that a body larger than growStep is read correctly.
func TestReaderGrowsWithArrivingData(t *testing.T) {
	rd := NewReader(bufio.NewReader(bytes.NewReader(hdr(0x30, vbi(MaxRemaining), str("t")))), 0)
	var p Packet
	if err := rd.Read(V311, &p); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if c := cap(rd.buf); c > growStep {
		t.Fatalf("buffer grew to %d for 3 bytes of body", c)
	}
	big := payloadOf(3*growStep + 17)
	raw := pk(0x30, str("big"), big)
	rd = NewReader(bufio.NewReader(iotest.HalfReader(bytes.NewReader(raw))), 0)
	if err := rd.Read(V311, &p); err != nil || !bytes.Equal(p.Payload, big) {
		t.Fatalf("big packet: %v", err)
	}
}

// TestReaderReleasesAfterLargePacket checks that a connection that once read a large packet holds no
// more than keptBody, and no slices of the packet, once it waits for the next one.
func TestReaderReleasesAfterLargePacket(t *testing.T) {
	big := pk(0x82, u16(1), bytes.Repeat(append(str("a"), 0), 10000))
	stream := append(big, pk(0xc0)...)
	rd := NewReader(bufio.NewReader(bytes.NewReader(stream)), 0)
	var p Packet
	if err := rd.Read(V311, &p); err != nil || p.Subs.Len() != 10000 {
		t.Fatalf("SUBSCRIBE: %v, %d subscriptions", err, p.Subs.Len())
	}
	if err := rd.Read(V311, &p); err != nil || p.Type != PINGREQ {
		t.Fatalf("PINGREQ: %v %v", err, p.Type)
	}
	if cap(rd.buf) > keptBody || p.Subs.raw != nil {
		t.Errorf("after a small packet: body buffer %d bytes, Subs %d bytes", cap(rd.buf), len(p.Subs.raw))
	}
	if err := rd.Read(V311, &p); err == nil {
		t.Fatal("read past the end")
	}
	if rd.buf != nil || p.Type != 0 {
		t.Error("an idle reader keeps the last packet's memory")
	}
}

// TestReaderKeep checks that a kept body is never reused, that a small one is not handed over, and what
// reading a large body costs: itself plus the growth steps (a third more at most).
func TestReaderKeep(t *testing.T) {
	big := pk(0x30, str("t"), payloadOf(4<<20))
	stream := append(append(append([]byte(nil), big...), big...), pk(0x30, str("t"), bs("small"))...)
	rd := NewReader(bufio.NewReader(bytes.NewReader(stream)), 0)
	var p Packet
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := rd.Read(V311, &p); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	body := len(big) - 4
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(body+body/3) {
		t.Errorf("reading a %d-byte body allocated %d bytes", body, got)
	}
	if !rd.Keep() {
		t.Fatal("a large body was not handed over")
	}
	kept := p.Payload
	want := bytes.Clone(kept)
	if err := rd.Read(V311, &p); err != nil {
		t.Fatal(err)
	}
	if &p.Payload[0] == &kept[0] || !bytes.Equal(kept, want) {
		t.Fatal("the Reader reused a kept body")
	}
	if err := rd.Read(V311, &p); err != nil {
		t.Fatal(err)
	}
	if rd.Keep() {
		t.Error("the small reused buffer was handed over")
	}
}

// TestAppendConnackTable encodes every valid CONNACK row of the byte table
// with AppendConnack, which the broker uses to accept a connection without
// a Packet, and expects the row's bytes; a 5.0 CONNACK without properties
// is the same with props nil.
func TestAppendConnackTable(t *testing.T) {
	n := 0
	for i := range packetCases {
		tc := &packetCases[i]
		if tc.Packet == nil || tc.Packet.Type != CONNACK || tc.ErrCode != 0 || tc.IOErr != nil || tc.DecodeOnly {
			continue
		}
		n++
		p := tc.Packet
		got := AppendConnack([]byte{0xAA}, tc.Version, p.SessionPresent, p.ReasonCode, &p.Props)
		if !bytes.Equal(got[1:], tc.Raw) || got[0] != 0xAA {
			t.Errorf("%s: AppendConnack = % x, want % x after aa", tc.Name, got, tc.Raw)
		}
		if p.Props.size(connackProps) == 0 {
			if got := AppendConnack(nil, tc.Version, p.SessionPresent, p.ReasonCode, nil); !bytes.Equal(got, tc.Raw) {
				t.Errorf("%s: AppendConnack with nil properties = % x, want % x", tc.Name, got, tc.Raw)
			}
		}
	}
	if n < 4 {
		t.Fatalf("only %d CONNACK rows in the table", n)
	}
}

// TestAppendAckTable encodes every valid acknowledgement row of the byte
// table without properties with AppendAck, which the broker uses to answer
// without a Packet, and expects the row's bytes.
func TestAppendAckTable(t *testing.T) {
	n := 0
	for i := range packetCases {
		tc := &packetCases[i]
		p := tc.Packet
		if p == nil || tc.ErrCode != 0 || tc.IOErr != nil || tc.DecodeOnly || p.Props.size(ackProps) != 0 {
			continue
		}
		switch p.Type {
		case PUBACK, PUBREC, PUBREL, PUBCOMP:
		default:
			continue
		}
		n++
		got := AppendAck([]byte{0xAA}, tc.Version, p.Type, p.PacketID, p.ReasonCode)
		if !bytes.Equal(got[1:], tc.Raw) || got[0] != 0xAA {
			t.Errorf("%s: AppendAck = % x, want % x after aa", tc.Name, got, tc.Raw)
		}
		if want := p.Append(nil, tc.Version); !bytes.Equal(got[1:], want) {
			t.Errorf("%s: AppendAck = % x, Append = % x", tc.Name, got[1:], want)
		}
	}
	if n < 6 {
		t.Fatalf("only %d acknowledgement rows in the table", n)
	}
}
