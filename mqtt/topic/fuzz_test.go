package topic

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzAlphabet maps fuzz bytes to a few characters so that random inputs
// share levels, wildcards, '$' and empty levels often; ',' separates entries.
const fuzzAlphabet = "ab/+#$,/"

// fuzzMaxLen bounds each fuzz input of the tree and retained fuzzers.
const fuzzMaxLen = 256

// fuzzStrings decodes raw into entries over fuzzAlphabet.
func fuzzStrings(raw []byte) []string {
	var sb strings.Builder
	for _, c := range raw {
		sb.WriteByte(fuzzAlphabet[int(c)%len(fuzzAlphabet)])
	}
	return strings.Split(sb.String(), ",")
}

// fuzzEncode turns a readable seed back into bytes fuzzStrings decodes to it.
func fuzzEncode(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		b[i] = byte(strings.IndexByte(fuzzAlphabet, c))
	}
	return b
}

type modelKey struct {
	filter, group string
	key           int
}

func FuzzTreeMatch(f *testing.F) {
	// The spec examples over the fuzz alphabet, a few per seed: small
	// seeds keep minimisation (quadratic in input size) quick.
	short := strings.NewReplacer("sport", "a", "tennis", "b", "player1", "ab", "player2", "ba", "SYS", "a",
		"finance", "b", "ranking", "a", "score", "b", "wimbledon", "a", "monitor", "a", "Clients", "b", "ACCOUNTS", "a", "Accounts", "b", "sports", "ab")
	for i := 0; i < len(matchCases); i += 8 {
		var filters, topics []string
		for _, tc := range matchCases[i:min(i+8, len(matchCases))] {
			filters = append(filters, short.Replace(tc.filter))
			topics = append(topics, short.Replace(tc.topic))
		}
		f.Add(fuzzEncode(strings.Join(filters, ",")), fuzzEncode(strings.Join(topics, ",")), uint8(i))
	}
	f.Add(fuzzEncode("#,+,+/+,a/#,$a/#,/+,a/+/b,a,a/,/"), fuzzEncode("a,$a,/,a/b,a//b,$a/b,b/a,"), uint8(1))
	f.Add(fuzzEncode("a/b,a/b,a/b,+/b,+/b,#,#"), fuzzEncode("a/b,b/b,$/b"), uint8(0))
	f.Fuzz(func(t *testing.T, rawFilters, rawTopics []byte, seed uint8) {
		if len(rawFilters) > fuzzMaxLen || len(rawTopics) > fuzzMaxLen {
			return // the check is quadratic; small inputs find the bugs
		}
		tr := NewTree[int]()
		if seed%5 == 0 {
			tr.SetCacheLimit(2) // exercise sweeping
		}
		model := map[modelKey]Sub[int]{}
		var ops []modelKey
		for i, fl := range fuzzStrings(rawFilters) {
			if ValidFilter([]byte(fl)) != nil {
				continue
			}
			k := modelKey{filter: fl, key: (i + int(seed)) % 3}
			if (i+int(seed))%4 == 0 {
				k.group = "g"
			}
			s := Sub[int]{Key: k.key, Group: k.group, QoS: byte(i % 3), ID: uint32(i + 1)}
			_, existed := model[k]
			if isNew := tr.Add(k.filter, s); isNew == existed {
				t.Fatalf("Add(%q, %+v) isNew = %v, model had it: %v", k.filter, s, isNew, existed)
			}
			model[k] = s
			ops = append(ops, k)
		}
		topics := fuzzStrings(rawTopics)
		check := func(stage string) {
			t.Helper()
			if tr.Len() != len(model) {
				t.Fatalf("%s: Len = %d, model %d", stage, tr.Len(), len(model))
			}
			for _, tp := range topics {
				var want []Sub[int]
				for k, s := range model {
					if Match(k.filter, tp) {
						want = append(want, s)
					}
				}
				sortSubs(want)
				for range 2 { // miss, then (usually) hit
					got := sortSubs(tr.Match([]byte(tp), nil))
					if !slices.Equal(got, want) {
						t.Fatalf("%s: Match(%q)\n got %+v\nwant %+v\nops %+v", stage, tp, got, want, ops)
					}
				}
			}
		}
		check("after add")
		// Remove every other subscription, then the rest.
		for pass := range 2 {
			for i, k := range ops {
				if i%2 != pass {
					continue
				}
				_, inModel := model[k]
				if got := tr.Remove(k.filter, k.group, k.key); got != inModel {
					t.Fatalf("Remove(%+v) = %v, model had it: %v", k, got, inModel)
				}
				delete(model, k)
			}
			check("after remove")
		}
		checkEmpty(t, tr)
	})
}

func FuzzRetainedMatch(f *testing.F) {
	f.Add(fuzzEncode("a,a/b,$a,$a/b,/,a//b,b/a/b,a/"), fuzzEncode("#,+,+/+,a/#,$a/#,/+,a/+/b,+/#"))
	f.Fuzz(func(t *testing.T, rawTopics, rawFilters []byte) {
		if len(rawFilters) > fuzzMaxLen || len(rawTopics) > fuzzMaxLen {
			return
		}
		r := NewRetained[int]()
		model := map[string]int{}
		for i, tp := range fuzzStrings(rawTopics) {
			if ValidName([]byte(tp)) != nil {
				continue
			}
			r.Set(tp, i)
			model[tp] = i
		}
		if r.Len() != len(model) {
			t.Fatalf("Len = %d, want %d", r.Len(), len(model))
		}
		var all []string
		r.Range(func(tp string, v int) bool {
			if model[tp] != v {
				t.Fatalf("Range %q = %d, want %d", tp, v, model[tp])
			}
			all = append(all, tp)
			return true
		})
		if len(all) != len(model) {
			t.Fatalf("Range visited %d, want %d", len(all), len(model))
		}
		for _, fl := range fuzzStrings(rawFilters) {
			if ValidFilter([]byte(fl)) != nil || strings.HasPrefix(fl, sharePrefix) {
				continue
			}
			if got, want := retainedMatch(r, fl), rangeFilter(r, fl); !slices.Equal(got, want) {
				t.Fatalf("Match(%q) = %q, want %q", fl, got, want)
			}
		}
		for _, tp := range all {
			if !r.Delete(tp) {
				t.Fatalf("Delete(%q) = false", tp)
			}
		}
		if r.Len() != 0 || r.nodes != 0 {
			t.Fatalf("not empty: Len=%d nodes=%d", r.Len(), r.nodes)
		}
	})
}

func FuzzValid(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter, tc.topic)
	}
	for _, s := range []string{"$share/g/a/#", "$share//a", "$share/g", "a\x00", "\xed\xa0\x80", "a/#/b", "a+", "++"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, fl, tp string) {
		Match(fl, tp) // never panics, whatever the input
		if len(fl) > fuzzMaxLen || len(tp) > fuzzMaxLen {
			// Long inputs make minimisation crawl; the length
			// limits are covered by the tables in valid_test.go.
			_, _ = ValidName([]byte(tp)), ValidFilter([]byte(fl))
			return
		}
		if ValidName([]byte(tp)) == nil {
			if strings.ContainsAny(tp, "+#\x00") || !utf8.ValidString(tp) || tp == "" || len(tp) > MaxLen {
				t.Fatalf("ValidName accepted %q", tp)
			}
			if !Match(tp, tp) {
				t.Fatalf("a valid name %q does not match itself as a filter", tp)
			}
			if ValidFilter([]byte(tp)) != nil && !strings.HasPrefix(tp, sharePrefix) {
				t.Fatalf("valid name %q is not a valid filter", tp)
			}
		}
		if ValidFilter([]byte(fl)) == nil {
			if fl == "" || strings.IndexByte(fl, 0) >= 0 || !utf8.ValidString(fl) {
				t.Fatalf("ValidFilter accepted %q", fl)
			}
			group, plain, ok := ParseShared(fl)
			if ok != strings.HasPrefix(fl, sharePrefix) {
				t.Fatalf("ParseShared(%q) ok = %v", fl, ok)
			}
			// The filter after the group is a plain filter: one that
			// starts with "$share/" is not read as a share again, by
			// ValidFilter or by the broker (one ParseShared per filter).
			if ok && (group == "" || strings.ContainsAny(group, "+#/") || plain == "" || checkWildcards([]byte(plain)) != nil) {
				t.Fatalf("ParseShared(%q) = %q, %q", fl, group, plain)
			}
			// Every level is literal, a whole '+', or a whole last '#'.
			levels := strings.Split(plain, "/")
			for i, l := range levels {
				if strings.ContainsAny(l, "+#") && l != "+" && !(l == "#" && i == len(levels)-1) {
					t.Fatalf("ValidFilter accepted %q (level %q)", fl, l)
				}
			}
		}
		// The tree agrees with Match on this one pair.
		if ValidFilter([]byte(fl)) == nil && !strings.HasPrefix(fl, sharePrefix) {
			tr := NewTree[int]()
			tr.Add(fl, Sub[int]{})
			if got := len(tr.Match([]byte(tp), nil)) == 1; got != Match(fl, tp) {
				t.Fatalf("Tree(%q).Match(%q) = %v, Match = %v", fl, tp, got, !got)
			}
			r := NewRetained[int]()
			r.Set(tp, 1)
			if got := len(retainedMatch(r, fl)) == 1; got != Match(fl, tp) {
				t.Fatalf("Retained(%q).Match(%q) = %v, Match = %v", tp, fl, got, !got)
			}
		}
	})
}
