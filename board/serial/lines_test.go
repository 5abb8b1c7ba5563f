package serial

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// splitAll feeds chunks to a splitter of max bytes and returns the lines,
// the over-long count and whether a partial line was left.
func splitAll(max int, chunks ...string) (lines []string, tooLong int, partial bool) {
	s := newLineSplitter(max)
	for _, c := range chunks {
		tooLong += s.feed([]byte(c), func(l []byte) { lines = append(lines, string(l)) })
	}
	return lines, tooLong, s.reset()
}

func TestLineSplitter(t *testing.T) {
	cases := []struct {
		name    string
		max     int
		chunks  []string
		lines   []string
		tooLong int
		partial bool
	}{
		{"lf", 16, []string{"a=1\nb=2\n"}, []string{"a=1", "b=2"}, 0, false},
		{"crlf", 16, []string{"a=1\r\nb=2\r\n"}, []string{"a=1", "b=2"}, 0, false},
		{"cr", 16, []string{"a=1\rb=2\r"}, []string{"a=1", "b=2"}, 0, false},
		{"empty lines dropped", 16, []string{"\n\n\r\n\ra\n\n"}, []string{"a"}, 0, false},
		{"split across reads", 16, []string{"te", "mp=2", "2.5\r", "\nhum=41", "\n"}, []string{"temp=22.5", "hum=41"}, 0, false},
		{"one byte at a time", 16, strings.Split("x=1\r\ny=2\n", ""), []string{"x=1", "y=2"}, 0, false},
		{"partial at the end", 16, []string{"a=1\nb="}, []string{"a=1"}, 0, true},
		{"exactly max", 4, []string{"abcd\n"}, []string{"abcd"}, 0, false},
		{"exactly max in parts", 4, []string{"ab", "cd\n"}, []string{"abcd"}, 0, false},
		{"one over max in one read", 4, []string{"abcde\nok\n"}, []string{"ok"}, 1, false},
		{"one over max in parts", 4, []string{"abc", "de", "\nok\n"}, []string{"ok"}, 1, false},
		{"long without newline", 4, []string{"abcdefgh", "ijklmnop", "q\nok\n"}, []string{"ok"}, 1, false},
		{"over-long line still open", 4, []string{"abcdefgh"}, nil, 1, true},
		{"two long lines", 2, []string{"abc\ndef\ngh\n"}, []string{"gh"}, 2, false},
		{"long ended by cr then lf", 2, []string{"abc\r", "\nok\r\n"}, []string{"ok"}, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, tooLong, partial := splitAll(tc.max, tc.chunks...)
			if !slices.Equal(lines, tc.lines) || tooLong != tc.tooLong || partial != tc.partial {
				t.Errorf("got lines %q tooLong %d partial %v, want %q %d %v", lines, tooLong, partial, tc.lines, tc.tooLong, tc.partial)
			}
		})
	}
}

// TestLineSplitterBounded feeds 1 MiB without a newline, then a line: the
// buffer never grows past max and the following line comes through.
func TestLineSplitterBounded(t *testing.T) {
	s := newLineSplitter(64)
	junk := bytes.Repeat([]byte("x"), 4096)
	tooLong := 0
	for range 256 {
		tooLong += s.feed(junk, func(l []byte) { t.Fatalf("unexpected line of %d bytes", len(l)) })
		if cap(s.buf) != 64 {
			t.Fatalf("buffer grew to %d", cap(s.buf))
		}
	}
	var got []string
	tooLong += s.feed([]byte("\nt=1\n"), func(l []byte) { got = append(got, string(l)) })
	if tooLong != 1 || !slices.Equal(got, []string{"t=1"}) {
		t.Fatalf("tooLong %d lines %q", tooLong, got)
	}
}

// TestLineSplitterSplitInvariance checks that every way of cutting the
// same stream in two gives the same lines.
func TestLineSplitterSplitInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab=\r\n\x00\xff")
	for range 200 {
		in := make([]byte, rng.IntN(40))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want, wantTL, wantP := splitAll(6, string(in))
		for cut := 0; cut <= len(in); cut++ {
			got, tl, p := splitAll(6, string(in[:cut]), string(in[cut:]))
			if !slices.Equal(got, want) || tl != wantTL || p != wantP {
				t.Fatalf("%q cut at %d: %q %d %v, whole: %q %d %v", in, cut, got, tl, p, want, wantTL, wantP)
			}
		}
	}
}

func TestIsText(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"temp=22.5 hum=41", true},
		{"tab\tseparated", true},
		{"unit=°C name=Zürich", true},
		{"emoji=🌡", true},
		{"nul\x00", false},
		{"bell\a", false},
		{"esc\x1b[0m", false},
		{"del\x7f", false},
		{"bad\xffutf8", false},
		{"truncated\xc3", false},
		{"c1\u0085control", false},
		{"surrogate\xed\xa0\x80", false},
	}
	for _, tc := range cases {
		if got := isText([]byte(tc.in)); got != tc.want {
			t.Errorf("isText(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
