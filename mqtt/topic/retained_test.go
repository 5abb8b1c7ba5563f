package topic

import (
	"fmt"
	"slices"
	"testing"
)

// retainedMatch collects the topics Retained.Match visits.
func retainedMatch(r *Retained[int], filter string) []string {
	var got []string
	r.Match(filter, func(topic string, _ int) bool { got = append(got, topic); return true })
	return got
}

// rangeFilter is the reference: Range filtered with the naive Match.
func rangeFilter(r *Retained[int], filter string) []string {
	var want []string
	r.Range(func(topic string, _ int) bool {
		if Match(filter, topic) {
			want = append(want, topic)
		}
		return true
	})
	return want
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[int]()
	r.Set("a/b", 1)
	r.Set("a/b", 2) // replaces
	r.Set("a", 3)
	if r.Len() != 2 {
		t.Fatalf("Len = %d, want 2", r.Len())
	}
	if v, ok := r.Get("a/b"); !ok || v != 2 {
		t.Fatalf("Get(a/b) = %v, %v; want 2, true", v, ok)
	}
	for _, missing := range []string{"a/b/c", "a/c", "b", "", "a/"} {
		if _, ok := r.Get(missing); ok {
			t.Fatalf("Get(%q) found something", missing)
		}
		if r.Delete(missing) {
			t.Fatalf("Delete(%q) = true", missing)
		}
	}
	if !r.Delete("a") || r.Delete("a") {
		t.Fatal("Delete(a) did not succeed exactly once")
	}
	if v, ok := r.Get("a/b"); !ok || v != 2 {
		t.Fatalf("Delete(a) lost a/b: %v, %v", v, ok)
	}
	if !r.Delete("a/b") || r.Len() != 0 || r.nodes != 0 || r.root.kids != nil {
		t.Fatalf("not empty after deletes: Len=%d nodes=%d", r.Len(), r.nodes)
	}
}

func TestRetainedPrune(t *testing.T) {
	r := NewRetained[int]()
	topics := []string{"a/b/c", "a/b", "a", "/", "", "a//b", "$SYS/x", "x/y/z/w/v/u/t/s/r/q/p/o/n/m/l/k/j/i/h"}
	for i, tp := range topics {
		r.Set(tp, i)
	}
	for _, tp := range slices.Backward(topics) {
		if !r.Delete(tp) {
			t.Fatalf("Delete(%q) = false", tp)
		}
	}
	if r.Len() != 0 || r.nodes != 0 || r.root.kids != nil {
		t.Fatalf("not empty: Len=%d nodes=%d", r.Len(), r.nodes)
	}
}

func TestRetainedMatch(t *testing.T) {
	r := NewRetained[int]()
	topics := []string{
		"sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
		"sport/tennis/player2", "sports", "/finance", "finance", "/", "$SYS", "$SYS/monitor/Clients",
		"a-b", "a/b", "a", "a//b",
	}
	for i, tp := range topics {
		r.Set(tp, i)
	}
	filters := []string{"#", "+", "+/+", "/+", "sport/#", "sport/+", "sport/tennis/+", "+/tennis/#",
		"$SYS/#", "$SYS/+/Clients", "+/monitor/Clients", "a/#", "a/+", "a//b", "nothing/#", "sport/tennis/player1/#"}
	for _, tc := range matchCases {
		filters = append(filters, tc.filter)
	}
	for _, f := range filters {
		got, want := retainedMatch(r, f), rangeFilter(r, f)
		if !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %q\nwant %q", f, got, want)
		}
	}
	// Spot checks that do not rely on the reference.
	if got := retainedMatch(r, "#"); slices.Contains(got, "$SYS") || len(got) != len(topics)-2 {
		t.Errorf(`Match("#") = %q`, got)
	}
	if got := retainedMatch(r, "sport/#"); !slices.Equal(got, []string{"sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2"}) {
		t.Errorf(`Match("sport/#") = %q`, got)
	}
	if got := retainedMatch(r, "$SYS/#"); !slices.Equal(got, []string{"$SYS", "$SYS/monitor/Clients"}) {
		t.Errorf(`Match("$SYS/#") = %q`, got)
	}
	// Stopping.
	n := 0
	r.Match("#", func(string, int) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("Match did not stop after fn returned false: %d calls", n)
	}
	n = 0
	r.Range(func(string, int) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range did not stop: %d calls", n)
	}
}

func TestRetainedMatchValues(t *testing.T) {
	r := NewRetained[string]()
	for i := range 50 {
		r.Set(fmt.Sprintf("dev/%02d/temp", i), fmt.Sprint("v", i))
	}
	r.Set("dev/07/temp", "new")
	var got []string
	r.Match("dev/+/temp", func(topic, v string) bool { got = append(got, v); return true })
	if len(got) != 50 || got[0] != "v0" || got[7] != "new" || got[49] != "v49" {
		t.Fatalf("values in order = %q", got)
	}
}
