package modbus

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

// unhex turns "01 03 00 00" into bytes.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// frameCase is one request and its answer as bytes on the wire. The
// frames are the examples of the Modbus specifications and of the
// simplymodbus.ca pages that quote them; every CRC was checked against
// pymodbus's computeCRC.
type frameCase struct {
	name     string
	req      Request
	reqRaw   string
	respRaw  string
	respData string // Response.Data; "" for writes
	err      error  // DecodeResponse's error (nil, or the class of it)
	spec     string
}

var frameCases = []frameCase{
	{name: "read holding 10", req: Request{Slave: 1, Function: 3, Address: 0, Quantity: 10},
		reqRaw: "01 03 00 00 00 0A C5 CD", spec: "MB serial 6.2.2 (CRC example of the brief)"},
	{name: "read holding", req: Request{Slave: 0x11, Function: 3, Address: 0x6B, Quantity: 3},
		reqRaw: "11 03 00 6B 00 03 76 87", respRaw: "11 03 06 AE 41 56 52 43 40 49 AD", respData: "AE 41 56 52 43 40",
		spec: "MB app 6.3"},
	{name: "read coils", req: Request{Slave: 0x11, Function: 1, Address: 0x13, Quantity: 0x25},
		reqRaw: "11 01 00 13 00 25 0E 84", respRaw: "11 01 05 CD 6B B2 0E 1B 45 E6", respData: "CD 6B B2 0E 1B",
		spec: "MB app 6.1"},
	{name: "read discrete", req: Request{Slave: 0x11, Function: 2, Address: 0xC4, Quantity: 0x16},
		reqRaw: "11 02 00 C4 00 16 BA A9", respRaw: "11 02 03 AC DB 35 20 18", respData: "AC DB 35", spec: "MB app 6.2"},
	{name: "read input", req: Request{Slave: 0x11, Function: 4, Address: 8, Quantity: 1},
		reqRaw: "11 04 00 08 00 01 B2 98", respRaw: "11 04 02 00 0A F8 F4", respData: "00 0A", spec: "MB app 6.4"},
	{name: "write coil", req: Request{Slave: 0x11, Function: 5, Address: 0xAC, Values: []uint16{CoilOn}},
		reqRaw: "11 05 00 AC FF 00 4E 8B", respRaw: "11 05 00 AC FF 00 4E 8B", spec: "MB app 6.5"},
	{name: "write register", req: Request{Slave: 0x11, Function: 6, Address: 1, Values: []uint16{3}},
		reqRaw: "11 06 00 01 00 03 9A 9B", respRaw: "11 06 00 01 00 03 9A 9B", spec: "MB app 6.6"},
	{name: "write registers", req: Request{Slave: 0x11, Function: 16, Address: 1, Quantity: 2, Values: []uint16{0x000A, 0x0102}},
		reqRaw: "11 10 00 01 00 02 04 00 0A 01 02 C6 F0", respRaw: "11 10 00 01 00 02 12 98", spec: "MB app 6.12"},
	{name: "exception", req: Request{Slave: 1, Function: 3, Address: 0x100, Quantity: 1},
		respRaw: "01 83 02 C0 F1", err: &ExceptionError{Function: 3, Code: 2}, spec: "MB app 7"},
	{name: "crc error", req: Request{Slave: 1, Function: 3, Address: 0, Quantity: 1},
		respRaw: "01 03 02 00 2A 38 5B", err: ErrCRC},
	{name: "another slave", req: Request{Slave: 1, Function: 4, Address: 8, Quantity: 1},
		respRaw: "11 04 02 00 0A F8 F4", err: ErrWrongSlave},
	{name: "write not echoed", req: Request{Slave: 0x11, Function: 6, Address: 1, Values: []uint16{4}},
		respRaw: "11 06 00 01 00 03 9A 9B", err: ErrEcho},
}

func TestCRC(t *testing.T) {
	for _, tc := range frameCases {
		for _, raw := range []string{tc.reqRaw, tc.respRaw} {
			if raw == "" || tc.err == ErrCRC {
				continue
			}
			b := unhex(raw)
			n := len(b)
			if got := CRC(b[:n-2]); got != uint16(b[n-2])|uint16(b[n-1])<<8 {
				t.Errorf("%s: CRC of % X = %04X, want low %02X high %02X", tc.name, b[:n-2], got, b[n-2], b[n-1])
			}
		}
	}
	// The catalogue's check value of CRC-16/MODBUS.
	if got := CRC([]byte("123456789")); got != 0x4B37 {
		t.Errorf("CRC(123456789) = %04X, want 4B37", got)
	}
}

func TestAppendRequest(t *testing.T) {
	for _, tc := range frameCases {
		if tc.reqRaw == "" {
			continue
		}
		prefix := []byte("xx")
		got, err := AppendRequest(slices.Clip(prefix), &tc.req)
		if err != nil || !bytes.Equal(got, append([]byte("xx"), unhex(tc.reqRaw)...)) {
			t.Errorf("%s (%s): got % X, %v; want % X", tc.name, tc.spec, got, err, unhex(tc.reqRaw))
		}
		back, err := DecodeRequest(unhex(tc.reqRaw))
		if err != nil || back.Slave != tc.req.Slave || back.Function != tc.req.Function || back.Address != tc.req.Address ||
			!slices.Equal(back.Values, tc.req.Values) {
			t.Errorf("%s: DecodeRequest = %+v, %v", tc.name, back, err)
		}
		if n, err := RequestLen(unhex(tc.reqRaw)); err != nil || n != len(unhex(tc.reqRaw)) {
			t.Errorf("%s: RequestLen = %d, %v", tc.name, n, err)
		}
	}
}

func TestAppendRequestRefuses(t *testing.T) {
	bad := []Request{
		{Slave: 0, Function: 3, Quantity: 1},
		{Slave: 248, Function: 3, Quantity: 1},
		{Slave: 1, Function: 3, Quantity: 0},
		{Slave: 1, Function: 3, Quantity: 126},
		{Slave: 1, Function: 1, Quantity: 2001},
		{Slave: 1, Function: 3, Address: 0xFFFF, Quantity: 2},
		{Slave: 1, Function: 5, Values: []uint16{1}},
		{Slave: 1, Function: 6},
		{Slave: 1, Function: 16, Quantity: 2, Values: []uint16{1}},
		{Slave: 1, Function: 16, Quantity: 124, Values: make([]uint16, 124)},
		{Slave: 1, Function: 7},
	}
	for _, r := range bad {
		if b, err := AppendRequest(nil, &r); !errors.Is(err, ErrRequest) || len(b) != 0 {
			t.Errorf("%+v: got % X, %v", r, b, err)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	for _, tc := range frameCases {
		if tc.respRaw == "" {
			continue
		}
		raw := unhex(tc.respRaw)
		// Framing: 0 until the length is known, then the whole frame.
		for i := range len(raw) {
			n, err := ResponseLen(&tc.req, raw[:i])
			if err != nil || n != 0 && n != len(raw) {
				t.Fatalf("%s: ResponseLen of %d bytes = %d, %v", tc.name, i, n, err)
			}
		}
		if n, err := ResponseLen(&tc.req, raw); err != nil || n != len(raw) {
			t.Fatalf("%s: ResponseLen = %d, %v; want %d", tc.name, n, err, len(raw))
		}
		resp, err := DecodeResponse(&tc.req, raw)
		var ex, wantEx *ExceptionError
		switch {
		case errors.As(tc.err, &wantEx):
			if !errors.As(err, &ex) || *ex != *wantEx {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
			}
		case err != tc.err:
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
		case err == nil && !bytes.Equal(resp.Data, unhex(tc.respData)):
			t.Errorf("%s: data % X, want %s", tc.name, resp.Data, tc.respData)
		case err == nil:
			back, err := AppendResponse(nil, &tc.req, resp.Data)
			if err != nil || !bytes.Equal(back, raw) {
				t.Errorf("%s: AppendResponse = % X, %v", tc.name, back, err)
			}
		}
	}
	if got := AppendException(nil, 1, 3, 2); !bytes.Equal(got, unhex("01 83 02 C0 F1")) {
		t.Errorf("AppendException = % X", got)
	}
}

func TestResponseAccessors(t *testing.T) {
	r := Response{Data: unhex("CD 6B B2 0E 1B")}
	// MB app 6.1: coils 27..20 are CD, so coil 20 (bit 0) is 1, 21 is 0.
	want := []bool{true, false, true, true, false, false, true, true, true, true, false, true, false, true, true, false}
	for i, w := range want {
		if r.Bit(i) != w {
			t.Errorf("bit %d = %v", i, r.Bit(i))
		}
	}
	if r.Register(1) != 0xB20E {
		t.Errorf("register 1 = %04X", r.Register(1))
	}
}

func TestResponseLenUnframeable(t *testing.T) {
	req := Request{Slave: 1, Function: 3, Address: 0, Quantity: 2}
	if _, err := ResponseLen(&req, unhex("01 04 04")); err != ErrFunction {
		t.Errorf("other function: %v", err)
	}
	if _, err := ResponseLen(&req, unhex("01 03 02")); err != ErrLength {
		t.Errorf("wrong byte count: %v", err)
	}
	if n, err := ResponseLen(&req, unhex("07 83")); err != nil || n != 5 {
		t.Errorf("exception: %d %v", n, err)
	}
}

// FuzzResponse feeds arbitrary bytes, one at a time, to the framing and
// decoding of the answer to each request of the table: they may only
// return errors, never panic, and a frame that decodes must re-encode to
// the same bytes.
func FuzzResponse(f *testing.F) {
	for _, tc := range frameCases {
		if tc.respRaw != "" {
			f.Add(unhex(tc.respRaw))
		}
	}
	f.Add(unhex("01 03 FF"))
	f.Add(unhex("01 83"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, tc := range frameCases {
			req := tc.req
			var in []byte
			for _, c := range raw {
				if len(in) == MaxADU {
					t.Fatalf("%s: more than %d bytes gathered", tc.name, MaxADU)
				}
				in = append(in, c)
				n, err := ResponseLen(&req, in)
				if err != nil {
					break
				}
				if n == 0 || len(in) < n {
					continue
				}
				if n > MaxADU || n != len(in) {
					t.Fatalf("%s: ResponseLen %d with %d bytes", tc.name, n, len(in))
				}
				resp, err := DecodeResponse(&req, in)
				if err != nil {
					break
				}
				back, err := AppendResponse(nil, &req, resp.Data)
				if err != nil || !bytes.Equal(back, in) {
					t.Fatalf("%s: round trip % X -> % X, %v", tc.name, in, back, err)
				}
				break
			}
		}
	})
}

// FuzzRequest does the same for the slave's side.
func FuzzRequest(f *testing.F) {
	for _, tc := range frameCases {
		if tc.reqRaw != "" {
			f.Add(unhex(tc.reqRaw))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := RequestLen(raw)
		if err != nil || n == 0 || n > len(raw) {
			return
		}
		if n > 9+255 {
			t.Fatalf("RequestLen %d", n)
		}
		req, err := DecodeRequest(raw[:n])
		if err != nil {
			return
		}
		back, err := AppendRequest(nil, &req)
		if err != nil || !bytes.Equal(back, raw[:n]) {
			t.Fatalf("round trip % X -> % X, %v", raw[:n], back, err)
		}
	})
}
