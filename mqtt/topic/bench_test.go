package topic

import (
	"fmt"
	"testing"
)

// benchTree builds a tree of n filters shaped like a gateway's: per-device
// literal filters, per-device '+' filters, some '#' filters and a few global
// wildcards, over 1000 devices.
func benchTree(n int) *Tree[int] {
	tr := NewTree[int]()
	for i := 0; tr.Len() < n; i++ {
		dev := i % 1000
		var f string
		switch i % 5 {
		case 0:
			f = fmt.Sprintf("site/%d/dev/%d/temp", dev%10, dev)
		case 1:
			f = fmt.Sprintf("site/%d/dev/%d/+", dev%10, dev)
		case 2:
			f = fmt.Sprintf("site/%d/dev/+/temp", dev%10)
		case 3:
			f = fmt.Sprintf("site/%d/dev/%d/#", dev%10, dev)
		case 4:
			f = fmt.Sprintf("cmd/%d/%d/set", dev, i)
		}
		tr.Add(f, Sub[int]{Key: i, QoS: 1})
	}
	tr.Add("#", Sub[int]{Key: -1})
	tr.Add("site/+/dev/+/temp", Sub[int]{Key: -2})
	return tr
}

func BenchmarkTreeMatchCacheHit(b *testing.B) {
	tr := benchTree(10000)
	topic := []byte("site/3/dev/123/temp")
	dst := tr.Match(topic, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst = tr.Match(topic, dst[:0])
	}
	b.ReportMetric(float64(len(dst)), "subs/op")
}

// BenchmarkTreeMatchCacheMiss publishes to 4096 distinct topics round-robin
// (more than the cache holds), so nearly every call walks the trie and
// stores its result.
func BenchmarkTreeMatchCacheMiss(b *testing.B) {
	benchMiss(b, DefaultCacheTopics)
}

// BenchmarkTreeMatchNoCache walks the trie with the cache disabled.
func BenchmarkTreeMatchNoCache(b *testing.B) {
	benchMiss(b, 0)
}

func benchMiss(b *testing.B, cache int) {
	tr := benchTree(10000)
	tr.SetCacheLimit(cache)
	topics := make([][]byte, 4096)
	for i := range topics {
		topics[i] = fmt.Appendf(nil, "site/%d/dev/%d/temp", i%10, i%1000+i/1000*7)
	}
	dst := make([]Sub[int], 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		dst = tr.Match(topics[i%len(topics)], dst[:0])
		i++
	}
}

func BenchmarkRetainedMatch(b *testing.B) {
	r := NewRetained[int]()
	for dev := range 1000 {
		for _, m := range []string{"temp", "hum", "status", "fw/version", "fw/date"} {
			r.Set(fmt.Sprintf("site/%d/dev/%d/%s", dev%10, dev, m), dev) // 5000 topics
		}
	}
	for _, f := range []string{"site/3/dev/+/temp", "site/+/dev/123/#", "site/3/dev/123/temp"} {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				r.Match(f, func(string, int) bool { n++; return true })
			}
			b.ReportMetric(float64(n)/float64(b.N), "msgs/op")
		})
	}
}
