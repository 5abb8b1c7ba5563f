package topic

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"sport/tennis/player1", nil},
		{"/finance", nil}, // leading empty level (§4.7.1.3)
		{"sport/", nil},   // trailing empty level
		{"/", nil},        // two empty levels
		{"$SYS/broker/uptime", nil},
		{"a//b", nil},
		{"ünï/cødé/日本", nil},
		{" ", nil}, // spaces are allowed (§4.7.3)
		{strings.Repeat("a", MaxLen), nil},
		{"", ErrEmpty},                              // [MQTT-4.7.3-1]
		{strings.Repeat("a", MaxLen+1), ErrTooLong}, // [MQTT-4.7.3-3]
		{"a\x00b", ErrNullChar},                     // [MQTT-4.7.3-2]
		{"sport/+", ErrWildcardInName},              // [MQTT-4.7.1-1]
		{"sport/#", ErrWildcardInName},
		{"#", ErrWildcardInName},
		{"a+b", ErrWildcardInName},
		{"\xff", ErrInvalidUTF8},         // [MQTT-1.5.3-1]
		{"\xed\xa0\x80", ErrInvalidUTF8}, // encoded surrogate U+D800
		{"a/\xc0\xaf", ErrInvalidUTF8},   // overlong '/'
	}
	for _, tc := range cases {
		if err := ValidName([]byte(tc.name)); !errors.Is(err, tc.err) {
			t.Errorf("ValidName(%.40q) = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestValidFilter(t *testing.T) {
	cases := []struct {
		filter string
		err    error
	}{
		// §4.7.1.2 multi-level wildcard.
		{"sport/tennis/player1/#", nil},
		{"sport/#", nil},
		{"#", nil},
		{"sport/tennis#", ErrBadHash},   // [MQTT-4.7.1-2]
		{"sport/#/ranking", ErrBadHash}, // [MQTT-4.7.1-2]
		{"#/", ErrBadHash},
		{"##", ErrBadHash},
		{"a#", ErrBadHash},
		// §4.7.1.3 single-level wildcard.
		{"+", nil},
		{"+/tennis/#", nil},
		{"sport/+/player1", nil},
		{"sport/+", nil},
		{"+/+", nil},
		{"/+", nil},
		{"+/", nil},
		{"++", ErrBadPlus},     // [MQTT-4.7.1-3]
		{"sport+", ErrBadPlus}, // [MQTT-4.7.1-3]
		{"sport/+tennis", ErrBadPlus},
		{"+#", ErrBadPlus},
		// Plain and odd but valid.
		{"/finance", nil},
		{"/", nil},
		{"//", nil},
		{"$SYS/#", nil},
		{"$share", nil},      // not a share: no '/' after it
		{"$sharex/g/a", nil}, // not a share
		// §4.7.3 strings.
		{"", ErrEmpty},
		{"a\x00", ErrNullChar},
		{"\xc3", ErrInvalidUTF8},
		{strings.Repeat("/", MaxLen+1), ErrTooLong},
		// 5.0 §4.8.2 shared subscriptions.
		{"$share/g/sport/#", nil},
		{"$share/g/+", nil},
		{"$share/g/$SYS/x", nil},
		{"$share/g//", nil},
		{"$share/g/$share/", nil},        // the filter is plain: not read as a share again
		{"$share/g", ErrBadShareFilter},  // [MQTT-4.8.2-2]
		{"$share/g/", ErrBadShareFilter}, // [MQTT-4.8.2-2]
		{"$share//a", ErrBadShareName},   // [MQTT-4.8.2-1]
		{"$share/+/a", ErrBadShareName},  // [MQTT-4.8.2-1]
		{"$share/g#/a", ErrBadShareName}, // [MQTT-4.8.2-1]
		{"$share/g/a#", ErrBadHash},
		{"$share/g/a+", ErrBadPlus},
	}
	for _, tc := range cases {
		if err := ValidFilter([]byte(tc.filter)); !errors.Is(err, tc.err) {
			t.Errorf("ValidFilter(%.40q) = %v, want %v", tc.filter, err, tc.err)
		}
	}
}

func TestParseShared(t *testing.T) {
	cases := []struct {
		in, group, filter string
		ok                bool
	}{
		{"$share/g/a/b", "g", "a/b", true},
		{"$share/group/#", "group", "#", true},
		{"$share/g/", "g", "", true},
		{"$share/g", "", "$share/g", false},
		{"$share//a", "", "$share//a", false},
		{"$share", "", "$share", false},
		{"a/b", "", "a/b", false},
		{"$SYS/x", "", "$SYS/x", false},
	}
	for _, tc := range cases {
		g, f, ok := ParseShared(tc.in)
		if g != tc.group || f != tc.filter || ok != tc.ok {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q, %v", tc.in, g, f, ok, tc.group, tc.filter, tc.ok)
		}
	}
}

func TestValidAllocs(t *testing.T) {
	name := []byte("sensors/kitchen/temperature")
	filter := []byte("$share/g/sensors/+/temperature")
	if n := testing.AllocsPerRun(100, func() {
		_ = ValidName(name)
		_ = ValidFilter(filter)
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]int{"a": 1, "": 1, "/": 2, "a/b/c": 3, "//": 3, "$share/g/a": 3} {
		if got := Levels([]byte(in)); got != want {
			t.Errorf("Levels(%q) = %d, want %d", in, got, want)
		}
	}
}
