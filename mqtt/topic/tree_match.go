package topic

import "bytes"

// Result cache bounds. A cached result is a copy of the subscriptions a topic
// matched; the cache is emptied by every Add and Remove.
const (
	// DefaultCacheTopics is the number of topics NewTree caches results for.
	DefaultCacheTopics = 1024
	// cacheMaxResult is the largest result that is cached; larger results
	// are recomputed (the walk does not allocate, the copy would dominate).
	cacheMaxResult = 256
	// cacheMaxSubs bounds the Subs held by the whole cache, so that memory
	// stays small on a router whatever the fan-out.
	cacheMaxSubs = 16384
	// cacheMaxTopicLen is the longest topic whose result is cached, so
	// that keys stay small (a topic name may be 65535 bytes).
	cacheMaxTopicLen = 256
)

// SetCacheLimit sets how many topics the result cache keeps (the cache is
// swept down to a quarter when full); n <= 0 disables the cache and frees it.
// Matching without a cache gives the same results and still allocates
// nothing when dst has room; the cache only saves the trie walk.
func (t *Tree[K]) SetCacheLimit(n int) {
	t.cacheMax = max(n, 0)
	t.cache, t.cacheSubs = nil, 0
}

// clearCache empties the result cache (after the tree changed).
func (t *Tree[K]) clearCache() {
	if len(t.cache) > 0 {
		clear(t.cache)
		t.cacheSubs = 0
	}
}

// Match appends to dst every subscription whose filter matches the topic
// name and returns the extended slice. topic should have passed ValidName;
// it is only read during the call. Shared-group subscriptions are appended
// too (the caller picks one member per group). A subscriber with several
// matching filters appears several times (see Dedup). The order of the
// results is unspecified but the same for the same tree and topic.
//
// Match allocates nothing when the topic's result is cached and dst has
// room; on a cache miss it allocates only to store the result in the cache.
// Topics longer than 256 bytes and results of more than 256 subscriptions
// are not cached (they are walked each time, still without allocating).
// The cache holds up to SetCacheLimit topics and is emptied by Add and
// Remove, so Match must run under the same exclusive lock as they do.
func (t *Tree[K]) Match(topic []byte, dst []Sub[K]) []Sub[K] {
	if t.count == 0 {
		return dst
	}
	if t.cacheMax > 0 {
		if r, ok := t.cache[string(topic)]; ok {
			return append(dst, r...)
		}
	}
	start := len(dst)
	dst = t.match(topic, dst)
	if t.cacheMax > 0 {
		t.cacheStore(topic, dst[start:])
	}
	return dst
}

// match walks the trie for topic without touching the cache.
func (t *Tree[K]) match(topic []byte, dst []Sub[K]) []Sub[K] {
	if len(topic) == 0 || topic[0] != '$' {
		return matchFrom(&t.root, topic, 0, dst)
	}
	// [MQTT-4.7.2-1] Filters starting with '+' or '#' do not match topic
	// names starting with '$': follow only the literal first level.
	end := levelEnd(topic, 0)
	c := t.root.lits[string(topic[:end])]
	if c == nil {
		return dst
	}
	return matchFrom(c, topic, end+1, dst)
}

// levelEnd returns the index of the '/' ending the level that starts at
// start, or len(topic).
func levelEnd(topic []byte, start int) int {
	if i := bytes.IndexByte(topic[start:], '/'); i >= 0 {
		return start + i
	}
	return len(topic)
}

// matchFrom appends the subscriptions below n matching the levels of topic
// from byte start on; start > len(topic) means all levels are consumed.
// It recurses only into '+' children, so its depth is bounded by the depth
// of the trie.
func matchFrom[K comparable](n *node[K], topic []byte, start int, dst []Sub[K]) []Sub[K] {
	for {
		if n.hash != nil {
			// '#' matches the remaining levels, and the parent
			// level when none remain ("a/#" matches "a").
			dst = append(dst, n.hash.subs...)
		}
		if start > len(topic) {
			return append(dst, n.subs...)
		}
		end := levelEnd(topic, start)
		if n.plus != nil {
			dst = matchFrom(n.plus, topic, end+1, dst)
		}
		c := n.lits[string(topic[start:end])] // no allocation for the key
		if c == nil {
			return dst
		}
		n, start = c, end+1
	}
}

// cacheStore keeps a copy of res as the result for topic.
func (t *Tree[K]) cacheStore(topic []byte, res []Sub[K]) {
	if len(res) > cacheMaxResult || len(topic) > cacheMaxTopicLen {
		return
	}
	if t.cache == nil {
		t.cache = make(map[string][]Sub[K])
	}
	if len(t.cache) >= t.cacheMax || t.cacheSubs+len(res) > cacheMaxSubs {
		// Sweep to a quarter; map iteration order is randomised,
		// which makes this a cheap random eviction.
		keep := t.cacheMax / 4
		for k, v := range t.cache {
			if len(t.cache) <= keep && t.cacheSubs+len(res) <= cacheMaxSubs {
				break
			}
			delete(t.cache, k)
			t.cacheSubs -= len(v)
		}
	}
	var r []Sub[K]
	if len(res) > 0 {
		r = append(make([]Sub[K], 0, len(res)), res...)
	}
	t.cache[string(topic)] = r
	t.cacheSubs += len(r)
}
