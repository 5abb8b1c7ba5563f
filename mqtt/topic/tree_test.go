package topic

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sortSubs orders subs by Key, Group, ID, QoS so results compare as multisets.
func sortSubs[K cmp.Ordered](s []Sub[K]) []Sub[K] {
	slices.SortFunc(s, func(a, b Sub[K]) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.ID, b.ID), cmp.Compare(a.QoS, b.QoS))
	})
	return s
}

// matchIDs returns the sorted IDs tree.Match returns for topic.
func matchIDs(t *testing.T, tr *Tree[string], topic string) []uint32 {
	t.Helper()
	var ids []uint32
	for _, s := range tr.Match([]byte(topic), nil) {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// checkEmpty fails unless the tree holds no subscription and no node.
func checkEmpty[K comparable](t *testing.T, tr *Tree[K]) {
	t.Helper()
	if tr.Len() != 0 || tr.nodes != 0 || !tr.root.empty() {
		t.Fatalf("tree not empty: Len=%d nodes=%d root=%+v", tr.Len(), tr.nodes, tr.root)
	}
}

func TestTreeSpecCases(t *testing.T) {
	for i, tc := range matchCases {
		tr := NewTree[string]()
		tr.Add(tc.filter, Sub[string]{Key: "c", ID: uint32(i + 1)})
		got := len(tr.Match([]byte(tc.topic), nil)) == 1
		if got != tc.want {
			t.Errorf("Tree with %q, Match(%q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
	// All filters in one tree: each topic must get exactly the filters
	// the reference Match accepts.
	tr := NewTree[string]()
	filters := map[string]uint32{}
	for _, tc := range matchCases {
		if _, ok := filters[tc.filter]; !ok {
			filters[tc.filter] = uint32(len(filters) + 1)
			tr.Add(tc.filter, Sub[string]{Key: "c", ID: filters[tc.filter]})
		}
	}
	for _, tc := range matchCases {
		var want []uint32
		for f, id := range filters {
			if Match(f, tc.topic) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		for range 2 { // miss, then cache hit
			if got := matchIDs(t, tr, tc.topic); !slices.Equal(got, want) {
				t.Errorf("Match(%q) = %v, want %v", tc.topic, got, want)
			}
		}
	}
}

func TestTreeAddRemoveReplace(t *testing.T) {
	tr := NewTree[string]()
	if !tr.Add("a/b", Sub[string]{Key: "c1", QoS: 0, ID: 1}) {
		t.Fatal("first Add not new")
	}
	if tr.Add("a/b", Sub[string]{Key: "c1", QoS: 2, ID: 7}) {
		t.Fatal("second Add of the same (key, filter) reported new")
	}
	if tr.Len() != 1 {
		t.Fatalf("Len = %d, want 1", tr.Len())
	}
	got := tr.Match([]byte("a/b"), nil)
	if len(got) != 1 || got[0].QoS != 2 || got[0].ID != 7 {
		t.Fatalf("after replace Match = %+v, want one sub QoS 2 ID 7", got)
	}
	if !tr.Add("a/b", Sub[string]{Key: "c2", QoS: 1}) || tr.Len() != 2 {
		t.Fatalf("Add of another key: Len = %d", tr.Len())
	}
	if tr.Remove("a/b", "", "nobody") || tr.Remove("a/c", "", "c1") || tr.Remove("a", "", "c1") || tr.Remove("a/b/c", "", "c1") {
		t.Fatal("Remove of a missing subscription reported true")
	}
	if !tr.Remove("a/b", "", "c1") {
		t.Fatal("Remove c1 = false")
	}
	if tr.Remove("a/b", "", "c1") {
		t.Fatal("second Remove c1 = true")
	}
	got = tr.Match([]byte("a/b"), got[:0])
	if len(got) != 1 || got[0].Key != "c2" {
		t.Fatalf("after Remove Match = %+v, want only c2", got)
	}
	if !tr.Remove("a/b", "", "c2") {
		t.Fatal("Remove c2 = false")
	}
	checkEmpty(t, tr)
	if got := tr.Match([]byte("a/b"), nil); len(got) != 0 {
		t.Fatalf("empty tree matched %+v", got)
	}
}

func TestTreePrune(t *testing.T) {
	tr := NewTree[int]()
	filters := []string{"a/b/c", "a/b", "a/+/c", "a/#", "#", "+", "+/+/+/+", "/", "", "a//b", "$SYS/#", "x/y/z/w/v/u/t/s/r/q/p/o/n/m/l/k/j/i"}
	for k := range 3 {
		for _, f := range filters {
			tr.Add(f, Sub[int]{Key: k})
			tr.Add(f, Sub[int]{Key: k, Group: "g"})
		}
	}
	if tr.nodes == 0 || tr.Len() != 6*len(filters) {
		t.Fatalf("nodes=%d Len=%d", tr.nodes, tr.Len())
	}
	// Match something so the cache holds entries, then remove everything
	// in a different order.
	tr.Match([]byte("a/b/c"), nil)
	for _, f := range slices.Backward(filters) {
		for k := range 3 {
			if !tr.Remove(f, "g", k) || !tr.Remove(f, "", k) {
				t.Fatalf("Remove(%q, %d) = false", f, k)
			}
		}
	}
	checkEmpty(t, tr)
	if len(tr.cache) != 0 {
		t.Fatalf("cache not cleared: %d entries", len(tr.cache))
	}
}

func TestTreeManySubsOneFilter(t *testing.T) {
	// Crosses indexMin both ways so the per-node index is built and dropped.
	tr := NewTree[int]()
	const n = 100
	for k := range n {
		tr.Add("t", Sub[int]{Key: k, QoS: 0})
	}
	for k := range n {
		if tr.Add("t", Sub[int]{Key: k, QoS: 1}) {
			t.Fatalf("re-Add key %d reported new", k)
		}
	}
	for k := 0; k < n; k += 2 {
		if !tr.Remove("t", "", k) {
			t.Fatalf("Remove %d = false", k)
		}
	}
	got := sortSubs(tr.Match([]byte("t"), nil))
	if len(got) != n/2 {
		t.Fatalf("got %d subs, want %d", len(got), n/2)
	}
	for i, s := range got {
		if s.Key != 2*i+1 || s.QoS != 1 {
			t.Fatalf("sub %d = %+v, want key %d QoS 1", i, s, 2*i+1)
		}
	}
	for k := 1; k < n; k += 2 {
		if !tr.Remove("t", "", k) {
			t.Fatalf("Remove %d = false", k)
		}
	}
	checkEmpty(t, tr)
}

func TestTreeSharedGroups(t *testing.T) {
	tr := NewTree[string]()
	tr.Add("s/+", Sub[string]{Key: "a", Group: "g1", QoS: 1})
	tr.Add("s/+", Sub[string]{Key: "b", Group: "g1", QoS: 1})
	tr.Add("s/+", Sub[string]{Key: "a", Group: "g2", QoS: 2})
	tr.Add("s/+", Sub[string]{Key: "a", QoS: 0}) // same key, not shared
	if tr.Len() != 4 {
		t.Fatalf("Len = %d, want 4 (group is part of the identity)", tr.Len())
	}
	got := sortSubs(tr.Match([]byte("s/x"), nil))
	want := []Sub[string]{{Key: "a"}, {Key: "a", Group: "g1", QoS: 1}, {Key: "a", Group: "g2", QoS: 2}, {Key: "b", Group: "g1", QoS: 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("Match = %+v\nwant %+v", got, want)
	}
	// Dedup leaves shared entries alone.
	if d := Dedup(got); len(d) != 4 {
		t.Fatalf("Dedup collapsed shared entries: %+v", d)
	}
	if !tr.Remove("s/+", "g1", "a") || tr.Remove("s/+", "g1", "a") {
		t.Fatal("Remove of shared sub did not work exactly once")
	}
	if got := tr.Match([]byte("s/x"), nil); len(got) != 3 {
		t.Fatalf("after Remove Match = %+v", got)
	}
}

func TestTreeDollarTopics(t *testing.T) {
	tr := NewTree[string]()
	tr.Add("#", Sub[string]{Key: "all", ID: 1})
	tr.Add("+/monitor/Clients", Sub[string]{Key: "plus", ID: 2})
	tr.Add("$SYS/#", Sub[string]{Key: "sys", ID: 3})
	tr.Add("$SYS/monitor/+", Sub[string]{Key: "sysplus", ID: 4})
	tr.Add("+", Sub[string]{Key: "one", ID: 5})
	for _, tc := range []struct {
		topic string
		want  []uint32
	}{
		{"$SYS/monitor/Clients", []uint32{3, 4}},
		{"$SYS", []uint32{3}},
		{"$other", nil},
		{"x/monitor/Clients", []uint32{1, 2}},
		{"x", []uint32{1, 5}},
	} {
		if got := matchIDs(t, tr, tc.topic); !slices.Equal(got, tc.want) {
			t.Errorf("Match(%q) IDs = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestTreeOverlapDedup(t *testing.T) {
	tr := NewTree[string]()
	tr.Add("a/b", Sub[string]{Key: "c1", QoS: 0, ID: 1})
	tr.Add("a/+", Sub[string]{Key: "c1", QoS: 2, ID: 2})
	tr.Add("a/#", Sub[string]{Key: "c1", QoS: 1, ID: 3, RetainAsPublished: true})
	tr.Add("#", Sub[string]{Key: "c2", QoS: 1})
	tr.Add("a/b", Sub[string]{Key: "c2", QoS: 0})
	all := tr.Match([]byte("a/b"), nil)
	if len(all) != 5 {
		t.Fatalf("Match = %d subs, want 5: %+v", len(all), all)
	}
	d := Dedup(all)
	if len(d) != 2 {
		t.Fatalf("Dedup = %+v, want 2 entries", d)
	}
	for _, s := range d {
		switch s.Key {
		case "c1":
			if s.QoS != 2 || !s.RetainAsPublished {
				t.Errorf("c1 = %+v, want QoS 2 [MQTT-3.3.5-1] and RetainAsPublished", s)
			}
		case "c2":
			if s.QoS != 1 {
				t.Errorf("c2 = %+v, want QoS 1", s)
			}
		}
	}
	ids := SubscriptionIDs(all, "c1", nil)
	slices.Sort(ids)
	if !slices.Equal(ids, []uint32{1, 2, 3}) {
		t.Fatalf("SubscriptionIDs(c1) = %v, want [1 2 3]", ids)
	}
}

func TestTreeRange(t *testing.T) {
	tr := NewTree[int]()
	want := map[string]int{}
	for i, f := range []string{"a", "a/b", "+", "#", "a/+/#", "$share-like", "/"} {
		tr.Add(f, Sub[int]{Key: i})
		want[fmt.Sprint(f, i)]++
	}
	got := map[string]int{}
	tr.Range(func(f string, s Sub[int]) bool { got[fmt.Sprint(f, s.Key)]++; return true })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Range = %v, want %v", got, want)
	}
	calls := 0
	tr.Range(func(string, Sub[int]) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("Range did not stop: %d calls", calls)
	}
}

func TestTreeCache(t *testing.T) {
	tr := NewTree[int]()
	tr.SetCacheLimit(8)
	tr.Add("a/+", Sub[int]{Key: 1})
	for i := range 100 {
		topic := []byte(fmt.Sprintf("a/%d", i))
		if got := tr.Match(topic, nil); len(got) != 1 {
			t.Fatalf("Match(%s) = %v", topic, got)
		}
		if len(tr.cache) > 8 {
			t.Fatalf("cache grew to %d entries, limit 8", len(tr.cache))
		}
	}
	// A change must be visible on a topic that was cached.
	tr.Match([]byte("a/1"), nil)
	tr.Add("a/1", Sub[int]{Key: 2})
	if got := tr.Match([]byte("a/1"), nil); len(got) != 2 {
		t.Fatalf("stale cache after Add: %v", got)
	}
	tr.Remove("a/+", "", 1)
	if got := tr.Match([]byte("a/1"), nil); len(got) != 1 || got[0].Key != 2 {
		t.Fatalf("stale cache after Remove: %v", got)
	}
	tr.SetCacheLimit(0)
	if got := tr.Match([]byte("a/1"), nil); len(got) != 1 || tr.cache != nil {
		t.Fatalf("disabled cache: %v, cache %v", got, tr.cache)
	}
}

func TestTreeMatchAllocs(t *testing.T) {
	tr := NewTree[int]()
	for i := range 100 {
		tr.Add(fmt.Sprintf("dev/%d/+", i), Sub[int]{Key: i})
		tr.Add(fmt.Sprintf("dev/%d/temp", i), Sub[int]{Key: i + 1000})
	}
	tr.Add("dev/#", Sub[int]{Key: -1})
	topic := []byte("dev/42/temp")
	dst := make([]Sub[int], 0, 16)
	tr.Match(topic, dst) // warm the cache
	if n := testing.AllocsPerRun(100, func() { dst = tr.Match(topic, dst[:0]) }); n != 0 {
		t.Errorf("cache hit: %v allocs, want 0", n)
	}
	if len(dst) != 3 {
		t.Fatalf("Match = %v, want 3 subs", dst)
	}
	tr.SetCacheLimit(0)
	if n := testing.AllocsPerRun(100, func() { dst = tr.Match(topic, dst[:0]) }); n != 0 {
		t.Errorf("uncached walk: %v allocs, want 0", n)
	}
	d := make([]Sub[int], 0, 16)
	if n := testing.AllocsPerRun(100, func() { d = Dedup(append(d[:0], dst...)) }); n != 0 {
		t.Errorf("Dedup: %v allocs, want 0", n)
	}
}

func TestTreeCacheSkipsLongTopics(t *testing.T) {
	tr := NewTree[int]()
	tr.Add("#", Sub[int]{Key: 1})
	long := []byte(strings.Repeat("a", cacheMaxTopicLen+1))
	if got := tr.Match(long, nil); len(got) != 1 || len(tr.cache) != 0 {
		t.Fatalf("long topic: Match = %v, cache entries %d, want 1 and 0", got, len(tr.cache))
	}
	if got := tr.Match(long[:cacheMaxTopicLen], nil); len(got) != 1 || len(tr.cache) != 1 {
		t.Fatalf("short topic: Match = %v, cache entries %d, want 1 and 1", got, len(tr.cache))
	}
}
