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
		format    string
		args      []any
		composite bool // needs the printing of any composite value
	}{
		{"plain text", nil, false},
		{"100%%", nil, false},
		{"%s and %s", []any{"a", "b"}, false},
		{"%s", []any{base}, false},
		{"%v", []any{base}, false},
		{"%q", []any{"quote \"me\"\n\x00é"}, false},
		{"%q", []any{[]byte("bytes\t")}, false},
		{"%+q", []any{"é"}, false},
		{"%#q", []any{"back`"}, false},
		{"%#q", []any{"back"}, false},
		{"%d %d %d %d %d %d %d", []any{int(-5), int64(1 << 40), uint16(65535), uint32(7), uint64(math.MaxUint64), byte(255), uint8(3)}, false},
		{"%d", []any{kind(1)}, false},
		{"%s %v", []any{kind(1), kind(0)}, false},
		{"%d %v %s", []any{plain(9), plain(10), plain(11)}, false},
		{"%v %v %v", []any{1.5, 1e21, 1e-7}, false},
		{"%v %v", []any{100.0, 123456789.0}, false},
		{"%v %v %v", []any{math.Inf(1), math.Inf(-1), math.NaN()}, false},
		{"%v", []any{float32(0.1)}, false},
		{"%.1f %.2f %f", []any{3.14159, 2.5, 1.0}, false},
		{"%g %e", []any{0.000012, 123456.0}, false},
		{"%8.2f|%-8.2f|%08.2f|%+.1f", []any{3.14159, 3.14159, -3.14159, 2.0}, false},
		{"%v %s", []any{time.Second + 500*time.Millisecond, 3 * time.Minute}, false},
		{"%016x %x %X %#x %08x %x", []any{uint64(0xdeadbeef), 255, 255, 255, -1, "hi"}, false},
		{"%-15s|%15s|%5d|%-5d|%05d", []any{"left", "right", 42, 42, -42}, false},
		{"%c%c", []any{'A', 0x263A}, false},
		{"%t %v", []any{true, false}, false},
		{"%v %v %v", []any{nil, []string{"a", "b"}, []int{1, 2}}, true},
		{"%v", []any{[]byte{1, 2, 3}}, true},
		{"%+v", []any{point{1, 2, "p", nil}}, true},
		{"%v", []any{point{1, 2, "p", base}}, true},
		{"%+v", []any{&point{X: 3}}, true},
		{"%v", []any{map[string]int{"b": 2, "a": 1}}, true},
		{"%v", []any{map[int]string{3: "c", 1: "a"}}, true},
		{"%+v", []any{[]any{1, "x", nil, 2.5}}, true},
		{"%v", []any{[2]bool{true, false}}, true},
		{"%v %s", []any{nilErr, nilErr}, false},
		{"%v", []any{nilPtr}, false},
		{"%s", []any{&nilStringer{"set"}}, false},
		{"%d", []any{"not a number"}, false},
		{"%s", []any{12}, false},
		{"%d %d", []any{1}, false},
		{"%d", []any{1, "extra", 2}, false},
		{"%z", []any{1}, false},
		{"%w", []any{base}, true},
		{"%!", nil, false},
		{"%", nil, false},
		{"trailing %5", nil, false},
		{"%.3s|%.0d|%.5d", []any{"abcdef", 0, 42}, false},
		{"% d %+d % x", []any{5, 5, "ab"}, false},
		{"%v", []any{fs.ErrNotExist}, true},
		{"%q", []any{'x'}, false},
	}
	for _, c := range cases {
		if c.composite && !printsComposites {
			continue // TestNosslComposites
		}
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

// TestNosslComposites: without printsComposites (-tags nossl) the slices
// that gatemq logs are written as fmt writes them, other composite values
// as %!v(TYPE) and pointers as addresses.
func TestNosslComposites(t *testing.T) {
	if printsComposites {
		t.Skip("this formatter writes every composite value as fmt does")
	}
	for _, c := range []struct {
		format string
		args   []any
		want   string
	}{
		{"%v", []any{[]string{"a", "b c"}}, "%!v([]string)"},
		{"%v", []any{[]uint16{7, 65535}}, "[7 65535]"},
		{"%v", []any{[]int{1, -2}}, "%!v([]int)"},
		{"%+v", []any{point{1, 2, "p", nil}}, "%!v(fmt.point)"},
		{"%v", []any{map[string]int{"a": 1}}, "%!v(map[string]int)"},
		{"%v", []any{[]byte{1, 2}}, "[1 2]"},
	} {
		if got, _ := appendf(nil, c.format, c.args, false); string(got) != c.want {
			t.Errorf("Sprintf(%q, %#v) = %q, want %q", c.format, c.args, got, c.want)
		}
	}
}
