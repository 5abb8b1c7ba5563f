package msgp

import (
	"bytes"
	"math"
	"os"
	"testing"

	up "github.com/tinylib/msgp/msgp"
)

// readSeeds are encodings of every type, cut short, and not MessagePack.
var readSeeds = [][]byte{
	{}, {0x00}, {0x7f}, {0x80}, {0x8f}, {0x90}, {0x9f}, {0xa0}, {0xa3, 'a', 'b', 'c'}, {0xa3, 'a'},
	{0xc0}, {0xc1}, {0xc2}, {0xc3}, {0xc4, 2, 1, 2}, {0xc4, 2, 1}, {0xc4}, {0xc5, 0, 1, 9}, {0xc6, 0, 0, 0, 1, 9},
	{0xc6, 0xff, 0xff, 0xff, 0xfe, 1}, {0xc7, 1, 5, 9}, {0xc8, 0, 1, 5, 9}, {0xc9, 0, 0, 0, 1, 5, 9},
	{0xca, 0, 0, 0, 0}, {0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, {0xcc, 0xff}, {0xcd, 1, 0}, {0xce, 1, 0, 0, 0},
	{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0xcf, 1, 0, 0, 0, 0, 0, 0, 0}, {0xd0, 0x80}, {0xd0, 0x7f}, {0xd1, 0xff, 0xff},
	{0xd2, 0, 0, 1, 0}, {0xd3, 0xff, 0, 0, 0, 0, 0, 0, 0}, {0xd3, 0, 0, 0, 0, 0, 0, 0, 1}, {0xd4, 1, 2},
	{0xd5, 1, 2, 3}, {0xd6, 1, 2, 3, 4, 5}, {0xd7, 1, 1, 2, 3, 4, 5, 6, 7, 8}, {0xd8, 1},
	{0xd9, 3, 'x', 'y', 'z'}, {0xda, 0, 1, 'x'}, {0xdb, 0, 0, 0, 1, 'x'}, {0xdc, 0, 2, 1, 2}, {0xdd, 0, 0, 0, 1, 0xc0},
	{0xde, 0, 1, 1, 2}, {0xdf, 0, 0, 0, 1, 1, 2}, {0xe0}, {0xff}, {0x95, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 0xc4, 1, 'k', 0xc4, 0},
	{0x92, 0x81, 0xa1, 'a', 0x91, 0x90, 0xc0}, {0xdd, 0xff, 0xff, 0xff, 0xff},
}

// sameResult reports how got and want differ ("" if they do not): the
// bytes left (nil or not, and their contents), the error text, and the
// error text once wrapped as generated code wraps it.
func sameResult(o1, o2 []byte, e1, e2 error) string {
	if (o1 == nil) != (o2 == nil) || !bytes.Equal(o1, o2) {
		return "bytes left differ"
	}
	if (e1 == nil) != (e2 == nil) {
		return "errors differ"
	}
	if e1 != nil {
		if e1.Error() != e2.Error() {
			return "error texts differ: " + e1.Error() + " | " + e2.Error()
		}
		w1, w2 := WrapError(e1, "Field", 3), up.WrapError(e2, "Field", 3)
		if w1.Error() != w2.Error() {
			return "wrapped error texts differ: " + w1.Error() + " | " + w2.Error()
		}
		if WrapError(WrapError(e1, "In"), "Out").Error() != up.WrapError(up.WrapError(e2, "In"), "Out").Error() {
			return "twice-wrapped error texts differ"
		}
	}
	return ""
}

// reader is a reader of a comparable value.
type reader[T comparable] func([]byte) (T, []byte, error)

// checkReader compares mine with upstream's theirs on b.
func checkReader[T comparable](t *testing.T, name string, b []byte, mine, theirs reader[T]) {
	t.Helper()
	v1, o1, e1 := mine(b)
	v2, o2, e2 := theirs(b)
	if d := sameResult(o1, o2, e1, e2); d != "" || v1 != v2 {
		t.Errorf("%s(%x): %s; %v vs %v", name, b, d, v1, v2)
	}
}

// checkRead compares every reader with upstream's on b.
func checkRead(t *testing.T, b []byte) {
	t.Helper()
	checkReader(t, "ReadUint64Bytes", b, ReadUint64Bytes, up.ReadUint64Bytes)
	checkReader(t, "ReadUint32Bytes", b, ReadUint32Bytes, up.ReadUint32Bytes)
	checkReader(t, "ReadUint16Bytes", b, ReadUint16Bytes, up.ReadUint16Bytes)
	checkReader(t, "ReadUint8Bytes", b, ReadUint8Bytes, up.ReadUint8Bytes)
	checkReader(t, "ReadInt64Bytes", b, ReadInt64Bytes, up.ReadInt64Bytes)
	checkReader(t, "ReadBoolBytes", b, ReadBoolBytes, up.ReadBoolBytes)
	checkReader(t, "ReadArrayHeaderBytes", b, ReadArrayHeaderBytes, up.ReadArrayHeaderBytes)
	checkReader(t, "ReadBytesHeader", b, ReadBytesHeader, up.ReadBytesHeader)
	checkReader(t, "ReadStringBytes", b, ReadStringBytes, up.ReadStringBytes)
	if IsNil(b) != up.IsNil(b) {
		t.Errorf("IsNil(%x) differs", b)
	}
	{
		o1, e1 := ReadNilBytes(b)
		o2, e2 := up.ReadNilBytes(b)
		if d := sameResult(o1, o2, e1, e2); d != "" {
			t.Errorf("ReadNilBytes(%x): %s", b, d)
		}
	}
	{
		o1, e1 := Skip(b)
		o2, e2 := up.Skip(b)
		if d := sameResult(o1, o2, e1, e2); d != "" {
			t.Errorf("Skip(%x): %s", b, d)
		}
	}
	v1, o1, e1 := ReadBytesZC(b)
	v2, o2, e2 := up.ReadBytesZC(b)
	if d := sameResult(o1, o2, e1, e2); d != "" || (v1 == nil) != (v2 == nil) || !bytes.Equal(v1, v2) || cap(v1) != cap(v2) {
		t.Errorf("ReadBytesZC(%x): %s; %x vs %x", b, d, v1, v2)
	}
}

func TestReadSeeds(t *testing.T) {
	for _, b := range readSeeds {
		checkRead(t, b)
		for i := range b { // and every shorter cut
			checkRead(t, b[:i])
		}
	}
	// Nesting past the recursion limit.
	deep := bytes.Repeat([]byte{0x91}, recursionLimit+1)
	checkRead(t, deep)
}

// FuzzReadAgainstUpstream holds every reader to upstream's on any input;
// the corpus adds flashstore's golden segment, real records.
func FuzzReadAgainstUpstream(f *testing.F) {
	for _, b := range readSeeds {
		f.Add(b)
	}
	if golden, err := os.ReadFile("../../testdata/segment-v1.golden"); err == nil {
		f.Add(golden)
		for i := 0; i+64 <= len(golden); i += 61 {
			f.Add(golden[i : i+64])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRead(t, b)
		if len(b) > 0 {
			checkRead(t, b[1:])
		}
	})
}

// checkAppend compares every writer with upstream's: the bytes, and the
// capacity (the same allocations).
func checkAppend(t *testing.T, prefix []byte, u uint64, i int64, s string, bts []byte, bo bool) {
	t.Helper()
	same := func(name string, a, b []byte) {
		if !bytes.Equal(a, b) || cap(a) != cap(b) || len(a) != len(b) {
			t.Errorf("%s: %x (cap %d) vs upstream's %x (cap %d)", name, a, cap(a), b, cap(b))
		}
	}
	p := func() []byte { return append(make([]byte, 0, len(prefix)+int(u%7)), prefix...) }
	same("AppendUint64", AppendUint64(p(), u), up.AppendUint64(p(), u))
	same("AppendUint32", AppendUint32(p(), uint32(u)), up.AppendUint32(p(), uint32(u)))
	same("AppendUint16", AppendUint16(p(), uint16(u)), up.AppendUint16(p(), uint16(u)))
	same("AppendUint8", AppendUint8(p(), uint8(u)), up.AppendUint8(p(), uint8(u)))
	same("AppendInt64", AppendInt64(p(), i), up.AppendInt64(p(), i))
	same("AppendString", AppendString(p(), s), up.AppendString(p(), s))
	same("AppendBytes", AppendBytes(p(), bts), up.AppendBytes(p(), bts))
	same("AppendBytes(nil)", AppendBytes(p(), nil), up.AppendBytes(p(), nil))
	same("AppendBytesHeader", AppendBytesHeader(p(), uint32(u)), up.AppendBytesHeader(p(), uint32(u)))
	same("AppendArrayHeader", AppendArrayHeader(p(), uint32(u)), up.AppendArrayHeader(p(), uint32(u)))
	same("AppendBool", AppendBool(p(), bo), up.AppendBool(p(), bo))
	same("AppendNil", AppendNil(p()), up.AppendNil(p()))
	same("Require", Require(p(), int(u%1000)), up.Require(p(), int(u%1000)))
	same("Require(nil)", Require(nil, int(u%1000)), up.Require(nil, int(u%1000)))
}

var appendSeeds = []uint64{0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, math.MaxInt64, math.MaxUint64}

func TestAppendSeeds(t *testing.T) {
	for _, u := range appendSeeds {
		for _, i := range []int64{int64(u), -int64(u), -int64(u) - 1, math.MinInt64} {
			n := int(min(u, 70000))
			checkAppend(t, []byte("pre"), u, i, string(bytes.Repeat([]byte{'s'}, n)), bytes.Repeat([]byte{'b'}, n), u%2 == 0)
			checkAppend(t, nil, u, i, "", nil, true)
		}
	}
}

// FuzzAppendAgainstUpstream holds every writer to upstream's.
func FuzzAppendAgainstUpstream(f *testing.F) {
	for _, u := range appendSeeds {
		f.Add([]byte("pre"), u, -int64(u), "text", []byte("bytes"), true)
	}
	f.Add([]byte(nil), uint64(40), int64(-33), string(bytes.Repeat([]byte{'s'}, 300)), bytes.Repeat([]byte{'b'}, 70000), false)
	f.Fuzz(func(t *testing.T, prefix []byte, u uint64, i int64, s string, bts []byte, bo bool) {
		checkAppend(t, prefix, u, i, s, bts, bo)
	})
}

// TestWrapErrorContexts compares the texts of errors wrapped with the
// contexts generated code gives (names and indexes), and of errors that
// take no context.
func TestWrapErrorContexts(t *testing.T) {
	pairs := []struct{ mine, theirs error }{
		{ErrShortBytes, up.ErrShortBytes},
		{ErrLimitExceeded, up.ErrLimitExceeded},
		{ErrRecursion, up.ErrRecursion},
		{TypeError{Method: UintType, Encoded: StrType}, up.TypeError{Method: up.UintType, Encoded: up.StrType}},
		{InvalidPrefixError(0xc1), up.InvalidPrefixError(0xc1)},
		{UintOverflow{Value: 300, FailedBitsize: 8}, up.UintOverflow{Value: 300, FailedBitsize: 8}},
		{UintBelowZero{Value: -1}, up.UintBelowZero{Value: -1}},
	}
	for _, p := range pairs {
		for _, ctx := range [][]any{nil, {"Subs"}, {"Subs", 2}, {"Subs", 2, "Topic"}} {
			a, b := WrapError(p.mine, ctx...), up.WrapError(p.theirs, ctx...)
			if a.Error() != b.Error() {
				t.Errorf("WrapError(%v, %v) = %q, upstream's %q", p.mine, ctx, a, b)
			}
			a, b = WrapError(a, "Outer"), up.WrapError(b, "Outer")
			if a.Error() != b.Error() {
				t.Errorf("wrapped again: %q, upstream's %q", a, b)
			}
		}
	}
}
