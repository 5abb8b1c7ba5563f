package fmt

import (
	"errors"
	stdfmt "fmt"
	"io/fs"
	"math"
	"testing"
	"time"
)

type kind uint8

func (k kind) String() string { return [...]string{"zero", "one"}[k] }

type plain uint16

type point struct {
	X, Y int
	Name string
	err  error
}

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }

// TestFormatMatchesFmt holds the own formatter to the standard library's
// fmt for the verbs, flags and types gatemq passes (and some more).
func TestFormatMatchesFmt(t *testing.T) {
	base := errors.New("base failure")
	var nilErr error
	var nilPtr *nilStringer
	cases := []struct {
		format string
		args   []any
	}{
		{"plain text", nil},
		{"100%%", nil},
		{"%s and %s", []any{"a", "b"}},
		{"%s", []any{base}},
		{"%v", []any{base}},
		{"%q", []any{"quote \"me\"\n\x00é"}},
		{"%q", []any{[]byte("bytes\t")}},
		{"%+q", []any{"é"}},
		{"%#q", []any{"back`"}},
		{"%#q", []any{"back"}},
		{"%d %d %d %d %d %d %d", []any{int(-5), int64(1 << 40), uint16(65535), uint32(7), uint64(math.MaxUint64), byte(255), uint8(3)}},
		{"%d", []any{kind(1)}},
		{"%s %v", []any{kind(1), kind(0)}},
		{"%d %v %s", []any{plain(9), plain(10), plain(11)}},
		{"%v %v %v", []any{1.5, 1e21, 1e-7}},
		{"%v %v", []any{100.0, 123456789.0}},
		{"%v %v %v", []any{math.Inf(1), math.Inf(-1), math.NaN()}},
		{"%v", []any{float32(0.1)}},
		{"%.1f %.2f %f", []any{3.14159, 2.5, 1.0}},
		{"%g %e", []any{0.000012, 123456.0}},
		{"%8.2f|%-8.2f|%08.2f|%+.1f", []any{3.14159, 3.14159, -3.14159, 2.0}},
		{"%v %s", []any{time.Second + 500*time.Millisecond, 3 * time.Minute}},
		{"%016x %x %X %#x %08x %x", []any{uint64(0xdeadbeef), 255, 255, 255, -1, "hi"}},
		{"%-15s|%15s|%5d|%-5d|%05d", []any{"left", "right", 42, 42, -42}},
		{"%c%c", []any{'A', 0x263A}},
		{"%t %v", []any{true, false}},
		{"%v %v %v", []any{nil, []string{"a", "b"}, []int{1, 2}}},
		{"%v", []any{[]byte{1, 2, 3}}},
		{"%+v", []any{point{1, 2, "p", nil}}},
		{"%v", []any{point{1, 2, "p", base}}},
		{"%+v", []any{&point{X: 3}}},
		{"%v", []any{map[string]int{"b": 2, "a": 1}}},
		{"%v", []any{map[int]string{3: "c", 1: "a"}}},
		{"%+v", []any{[]any{1, "x", nil, 2.5}}},
		{"%v", []any{[2]bool{true, false}}},
		{"%v %s", []any{nilErr, nilErr}},
		{"%v", []any{nilPtr}},
		{"%s", []any{&nilStringer{"set"}}},
		{"%d", []any{"not a number"}},
		{"%s", []any{12}},
		{"%d %d", []any{1}},
		{"%d", []any{1, "extra", 2}},
		{"%z", []any{1}},
		{"%w", []any{base}},
		{"%!", nil},
		{"%", nil},
		{"trailing %5", nil},
		{"%.3s|%.0d|%.5d", []any{"abcdef", 0, 42}},
		{"% d %+d % x", []any{5, 5, "ab"}},
		{"%v", []any{fs.ErrNotExist}},
		{"%q", []any{'x'}},
	}
	for _, c := range cases {
		want := stdfmt.Sprintf(c.format, c.args...)
		got, _ := appendf(nil, c.format, c.args, false)
		if string(got) != want {
			t.Errorf("Sprintf(%q, %#v):\n got %q\nwant %q", c.format, c.args, got, want)
		}
	}
}

func TestPrintMatchesFmt(t *testing.T) {
	for _, args := range [][]any{
		{"a", "b"},
		{1, 2},
		{"a", 1, 2, "b", 3},
		{errors.New("e"), "x"},
		{nil},
		{1.5, true},
		{kind(1), 2},
	} {
		if got, want := string(appendPrint(nil, args, false)), stdfmt.Sprint(args...); got != want {
			t.Errorf("Sprint(%#v) = %q, want %q", args, got, want)
		}
		if got, want := string(appendPrint(nil, args, true)), stdfmt.Sprintln(args...); got != want {
			t.Errorf("Sprintln(%#v) = %q, want %q", args, got, want)
		}
	}
}

func TestErrorfWraps(t *testing.T) {
	base := errors.New("base")
	other := fs.ErrNotExist
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"no wrap %v", []any{base}},
		{"wrap: %w", []any{base}},
		{"two: %w, %w", []any{base, other}},
		{"number %d", []any{3}},
		{"not an error %w", []any{3}},
	} {
		got, want := errorf(c.format, c.args), stdfmt.Errorf(c.format, c.args...)
		if got.Error() != want.Error() {
			t.Errorf("Errorf(%q): %q, want %q", c.format, got, want)
		}
		for _, target := range []error{base, other} {
			if errors.Is(got, target) != errors.Is(want, target) {
				t.Errorf("Errorf(%q): errors.Is(_, %v) = %v, fmt's %v", c.format, target, errors.Is(got, target), errors.Is(want, target))
			}
		}
		if (errors.Unwrap(got) == nil) != (errors.Unwrap(want) == nil) {
			t.Errorf("Errorf(%q): Unwrap %v, fmt's %v", c.format, errors.Unwrap(got), errors.Unwrap(want))
		}
	}
}
