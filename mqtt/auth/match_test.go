package auth

import (
	"strings"
	"testing"
)

func TestValidFilter(t *testing.T) {
	for _, f := range []string{"a", "#", "+", "a/#", "+/+", "a//b", "/", "$SYS/#", "a/+/c", "%u/%c", " spaced topic "} {
		if !validFilter(f) {
			t.Errorf("validFilter(%q) = false", f)
		}
	}
	for _, f := range []string{"", "a#", "a/#/b", "#/a", "a+", "+a/b", "a/b#", strings.Repeat("a", 65536)} {
		if validFilter(f) {
			t.Errorf("validFilter(%.20q) = true", f)
		}
	}
}

// refMatch is a naive matcher over split levels, written independently of
// matchTopic, to check it against.
func refMatch(f, t []string) bool {
	if len(t) > 0 && len(t[0]) > 0 && t[0][0] == '$' {
		if len(f) == 0 || len(f[0]) == 0 || f[0][0] != '$' {
			return false
		}
	}
	if len(f) > 0 && strings.HasPrefix(f[0], "$") && !(len(t) > 0 && strings.HasPrefix(t[0], "$")) {
		return false
	}
	var rec func(i int) bool
	rec = func(i int) bool {
		if i == len(f) {
			return i == len(t)
		}
		if f[i] == "#" {
			return true
		}
		if i == len(t) {
			return false
		}
		return (f[i] == "+" || f[i] == t[i]) && rec(i+1)
	}
	return rec(0)
}

// universe returns every topic of 1..depth levels drawn from lv, and every
// valid filter of 1..fdepth levels drawn from lv plus '+' and '#'. The
// topics include "" (one empty level): MQTT forbids it as a topic name, but
// the matchers treat it as one, which errs towards granting a subscription
// and not applying a deny to it (deliveries are checked one by one anyway).
func universe(lv []string, depth, fdepth int) (topics, filters []string) {
	var gen func(prefix []string, n int, alpha []string, out *[]string, filter bool)
	gen = func(prefix []string, n int, alpha []string, out *[]string, filter bool) {
		if len(prefix) > 0 {
			s := strings.Join(prefix, "/")
			if !filter || validFilter(s) {
				*out = append(*out, s)
			}
		}
		if len(prefix) == n || len(prefix) > 0 && prefix[len(prefix)-1] == "#" {
			return
		}
		for _, l := range alpha {
			gen(append(prefix[:len(prefix):len(prefix)], l), n, alpha, out, filter)
		}
	}
	gen(nil, depth, lv, &topics, false)
	gen(nil, fdepth, append([]string{"+", "#"}, lv[:len(lv)-1]...), &filters, true)
	return topics, filters
}

// TestMatchersExhaustive checks matchTopic, overlap and covers against
// their definitions over every small topic and filter: overlap(a,b) iff
// some topic matches both; covers(r,f) iff every topic matching f matches r.
func TestMatchersExhaustive(t *testing.T) {
	// "c" appears only in topics, so that '+' is never confused with a literal.
	topics, filters := universe([]string{"a", "b", "$s", "", "c"}, 4, 3)
	t.Logf("%d topics, %d filters", len(topics), len(filters))
	split := func(s string) []string { return strings.Split(s, "/") }
	match := make([][]bool, len(filters))
	for i, f := range filters {
		match[i] = make([]bool, len(topics))
		for j, tp := range topics {
			want := refMatch(split(f), split(tp))
			if got := matchTopic(f, tp); got != want {
				t.Fatalf("matchTopic(%q, %q) = %v, want %v", f, tp, got, want)
			}
			match[i][j] = want
		}
	}
	for i, a := range filters {
		for k, b := range filters {
			both, sub := false, true
			for j := range topics {
				both = both || match[i][j] && match[k][j]
				if match[k][j] && !match[i][j] {
					sub = false
				}
			}
			if got := overlap(a, b); got != both {
				t.Fatalf("overlap(%q, %q) = %v, want %v", a, b, got, both)
			}
			if got := covers(a, b); got != sub {
				t.Fatalf("covers(%q, %q) = %v, want %v", a, b, got, sub)
			}
		}
	}
}
