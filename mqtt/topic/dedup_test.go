package topic

import (
	"slices"
	"testing"
)

// naiveDedup is the reference for Dedup: first-seen order, max QoS,
// RetainAsPublished ORed, shared entries untouched.
func naiveDedup(in []Sub[int]) []Sub[int] {
	var out []Sub[int]
	pos := map[int]int{}
	for _, s := range in {
		if s.Group == "" {
			if j, ok := pos[s.Key]; ok {
				out[j].QoS = max(out[j].QoS, s.QoS)
				out[j].RetainAsPublished = out[j].RetainAsPublished || s.RetainAsPublished
				continue
			}
			pos[s.Key] = len(out)
		}
		out = append(out, s)
	}
	return out
}

func TestDedup(t *testing.T) {
	for _, n := range []int{0, 1, 5, dedupMapMin, dedupMapMin + 1, 200} {
		in := make([]Sub[int], n)
		for i := range in {
			in[i] = Sub[int]{Key: (i * 7) % 5, QoS: byte(i % 3), ID: uint32(i + 1), RetainAsPublished: i%4 == 0}
			if i%6 == 0 {
				in[i].Group = "g"
			}
		}
		want := naiveDedup(slices.Clone(in))
		work := slices.Clone(in)
		got := Dedup(work)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d Dedup = %+v\nwant %+v", n, got, want)
		}
		// Only a permutation: every original ID is still in work.
		var ids, wantIDs []uint32
		for i := range work {
			ids = append(ids, work[i].ID)
			wantIDs = append(wantIDs, in[i].ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, wantIDs) {
			t.Fatalf("n=%d: Dedup lost entries: %v", n, ids)
		}
		for _, s := range got {
			if s.Group != "" {
				continue
			}
			var all []uint32
			for _, x := range in {
				if x.Group == "" && x.Key == s.Key {
					all = append(all, x.ID)
				}
			}
			got := SubscriptionIDs(work, s.Key, nil)
			slices.Sort(got)
			if !slices.Equal(got, all) {
				t.Fatalf("n=%d SubscriptionIDs(%d) = %v, want %v", n, s.Key, got, all)
			}
		}
	}
}
