package modbus

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// typeCases: the registers were built by pymodbus's BinaryPayloadBuilder
// (byteorder and wordorder Big or Little for ABCD, CDAB, BADC, DCBA), an
// implementation independent of this one.
var typeCases = []struct {
	typ  string
	regs []uint16
	v    float64
}{
	{"float32", []uint16{0x4366, 0x199A}, float64(float32(230.1))},
	{"float32-ws", []uint16{0x199A, 0x4366}, float64(float32(230.1))},
	{"float32-bs", []uint16{0x6643, 0x9A19}, float64(float32(230.1))},
	{"float32-le", []uint16{0x9A19, 0x6643}, float64(float32(230.1))},
	{"int32", []uint16{0xF8A4, 0x32EB}, -123456789},
	{"int32-ws", []uint16{0x32EB, 0xF8A4}, -123456789},
	{"int32-bs", []uint16{0xA4F8, 0xEB32}, -123456789},
	{"int32-le", []uint16{0xEB32, 0xA4F8}, -123456789},
	{"uint32", []uint16{0xB2D0, 0x5E00}, 3000000000},
	{"uint32-ws", []uint16{0x5E00, 0xB2D0}, 3000000000},
	{"uint32-bs", []uint16{0xD0B2, 0x005E}, 3000000000},
	{"uint32-le", []uint16{0x005E, 0xD0B2}, 3000000000},
	{"int16", []uint16{0xFF85}, -123},
	{"uint16", []uint16{0xFF85}, 65413},
	{"bool", []uint16{1}, 1},
	{"bool", []uint16{0}, 0},
}

func TestTypeDecodeEncode(t *testing.T) {
	for _, tc := range typeCases {
		typ, err := ParseType(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if typ.String() != tc.typ || typ.Words() != len(tc.regs) {
			t.Errorf("%s: String %q Words %d", tc.typ, typ, typ.Words())
		}
		if got := typ.Decode(tc.regs); got != tc.v {
			t.Errorf("%s: Decode(%04X) = %v, want %v", tc.typ, tc.regs, got, tc.v)
		}
		got, err := typ.Encode(nil, tc.v)
		if err != nil || !slices.Equal(got, tc.regs) {
			t.Errorf("%s: Encode(%v) = %04X, %v; want %04X", tc.typ, tc.v, got, err, tc.regs)
		}
	}
	// A non-zero register is true.
	b, _ := ParseType("bool")
	if b.Decode([]uint16{0x8000}) != 1 {
		t.Error("bool of 0x8000")
	}
}

func TestTypeEncodeRange(t *testing.T) {
	cases := []struct {
		typ string
		v   float64
		ok  bool
	}{
		{"int16", -32768, true}, {"int16", 32767, true}, {"int16", 32768, false}, {"int16", -32769, false},
		{"uint16", 0, true}, {"uint16", 65535, true}, {"uint16", -1, false}, {"uint16", 65536, false},
		{"uint16", 1.5, false}, {"int32", math.MaxInt32, true}, {"int32", math.MaxInt32 + 1, false},
		{"uint32", math.MaxUint32, true}, {"uint32", -1, false}, {"bool", 2, false}, {"bool", 1, true},
		{"float32", 1e38, true}, {"float32", 1e39, false}, {"float32", math.NaN(), false},
		{"float32", math.Inf(1), false}, {"float32", 0.1, true},
	}
	for _, tc := range cases {
		typ, _ := ParseType(tc.typ)
		_, err := typ.Encode(nil, tc.v)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrRange) {
			t.Errorf("%s %v: %v", tc.typ, tc.v, err)
		}
	}
}

func TestParseTypeAndKind(t *testing.T) {
	names := TypeNames()
	if len(names) != 3+3*4 {
		t.Fatalf("TypeNames %v", names)
	}
	for _, n := range names {
		if typ, err := ParseType(n); err != nil || typ.String() != n {
			t.Errorf("%s: %v %v", n, typ, err)
		}
	}
	for _, bad := range []string{"", "int16-ws", "bool-le", "float64", "float32-", "float32-xx", "FLOAT32"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) accepted", bad)
		}
	}
	for i, n := range KindNames {
		k, err := ParseKind(n)
		if err != nil || k != Kind(i+1) || k.String() != n {
			t.Errorf("%s: %v %v", n, k, err)
		}
	}
	if _, err := ParseKind("register"); err == nil {
		t.Error("ParseKind(register) accepted")
	}
	for k, want := range map[Kind][3]any{Coil: {byte(1), true, true}, DiscreteInput: {byte(2), true, false},
		Holding: {byte(3), false, true}, Input: {byte(4), false, false}} {
		if k.ReadFunction() != want[0] || k.IsBit() != want[1] || k.Writable() != want[2] {
			t.Errorf("%v: %d %v %v", k, k.ReadFunction(), k.IsBit(), k.Writable())
		}
	}
}
