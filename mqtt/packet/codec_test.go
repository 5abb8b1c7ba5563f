package packet

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
	if cap(p.Subs) < 2 {
		t.Fatalf("Subs capacity not kept: %d", cap(p.Subs))
	}
}
