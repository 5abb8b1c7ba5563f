package topic

import "strings"

// Sub is one subscription of one subscriber (Key) to one filter. The tree
// stores and returns it by value.
type Sub[K comparable] struct {
	Key                        K      // the subscriber, e.g. its session
	QoS                        byte   // maximum QoS granted
	NoLocal, RetainAsPublished bool   // 5.0 subscription options
	ID                         uint32 // 5.0 subscription identifier, 0 = none
	Group                      string // shared subscription group ("" = not shared)
}

// indexMin is the number of subscriptions on one node above which the node
// keeps a map from (Key, Group) to position, so Add and Remove stay O(1)
// when thousands of clients subscribe to the same filter.
const indexMin = 16

// subID identifies a subscription within one node.
type subID[K comparable] struct {
	key   K
	group string
}

// node is one level of the filter trie.
type node[K comparable] struct {
	lits   map[string]*node[K] // literal child levels; nil when none
	plus   *node[K]            // child for a '+' level
	hash   *node[K]            // child for a '#' level (holds only subs)
	subs   []Sub[K]            // subscriptions whose filter ends here
	idx    map[subID[K]]int    // position in subs; only when len(subs) > indexMin
	filter string              // the filter of subs, for Range
}

// Tree holds subscriptions by filter. A (Key, Group, filter) triple appears
// at most once: Add replaces its options. The zero Tree is not usable; call
// NewTree. A Tree is not safe for concurrent use (see the package doc).
type Tree[K comparable] struct {
	root      node[K]
	count     int // subscriptions
	nodes     int // nodes below root
	cache     map[string][]Sub[K]
	cacheSubs int // Subs held by all cached results
	cacheMax  int // topics kept in the cache; 0 disables it
}

// NewTree returns an empty tree whose result cache holds up to
// DefaultCacheTopics topics.
func NewTree[K comparable]() *Tree[K] {
	return &Tree[K]{cacheMax: DefaultCacheTopics}
}

// Len returns the number of subscriptions in the tree.
func (t *Tree[K]) Len() int { return t.count }

// child returns the child of n for level, or nil.
func (n *node[K]) child(level string) *node[K] {
	switch level {
	case "+":
		return n.plus
	case "#":
		return n.hash
	}
	return n.lits[level]
}

// setChild attaches c to n for level; c == nil detaches it.
func (n *node[K]) setChild(level string, c *node[K]) {
	switch level {
	case "+":
		n.plus = c
	case "#":
		n.hash = c
	default:
		if c != nil {
			if n.lits == nil {
				n.lits = make(map[string]*node[K])
			}
			n.lits[level] = c
			return
		}
		delete(n.lits, level)
		if len(n.lits) == 0 {
			n.lits = nil // let the map's memory go
		}
	}
}

// empty reports whether n holds nothing and may be pruned.
func (n *node[K]) empty() bool {
	return len(n.subs) == 0 && len(n.lits) == 0 && n.plus == nil && n.hash == nil
}

// find returns the position of (key, group) in n.subs, or -1.
func (n *node[K]) find(key K, group string) int {
	if n.idx != nil {
		if i, ok := n.idx[subID[K]{key, group}]; ok {
			return i
		}
		return -1
	}
	for i := range n.subs {
		if n.subs[i].Key == key && n.subs[i].Group == group {
			return i
		}
	}
	return -1
}

// Add inserts s under filter, or replaces the options of the existing
// subscription with the same s.Key and s.Group, and reports whether it was
// new. filter is the plain filter: it must have passed ValidFilter, with any
// "$share/{group}/" prefix removed by ParseShared and the group put in
// s.Group. The tree keeps filter (and substrings of it). Add clears the
// result cache.
func (t *Tree[K]) Add(filter string, s Sub[K]) (isNew bool) {
	n := &t.root
	rest, more := filter, true
	for more {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		c := n.child(level)
		if c == nil {
			c = &node[K]{}
			n.setChild(level, c)
			t.nodes++
		}
		n = c
	}
	t.clearCache()
	if i := n.find(s.Key, s.Group); i >= 0 {
		n.subs[i] = s // [MQTT-3.8.4-3] replace, keeping one entry
		return false
	}
	n.filter = filter
	n.subs = append(n.subs, s)
	switch {
	case n.idx != nil:
		n.idx[subID[K]{s.Key, s.Group}] = len(n.subs) - 1
	case len(n.subs) > indexMin:
		n.idx = make(map[subID[K]]int, len(n.subs))
		for i, x := range n.subs {
			n.idx[subID[K]{x.Key, x.Group}] = i
		}
	}
	t.count++
	return true
}

// pathStep records one step of a walk from the root, for pruning.
type pathStep[K comparable] struct {
	parent *node[K]
	level  string
}

// Remove deletes the subscription of key in group ("" = not shared) to the
// plain filter and reports whether it existed. Nodes left empty are removed
// so their memory can be reclaimed. Remove clears the result cache when it
// removes something.
func (t *Tree[K]) Remove(filter string, group string, key K) bool {
	var stack [16]pathStep[K]
	path := stack[:0]
	n := &t.root
	rest, more := filter, true
	for more {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		c := n.child(level)
		if c == nil {
			return false
		}
		path = append(path, pathStep[K]{n, level})
		n = c
	}
	i := n.find(key, group)
	if i < 0 {
		return false
	}
	t.clearCache()
	n.removeAt(i)
	t.count--
	for j := len(path) - 1; j >= 0 && n.empty(); j-- {
		path[j].parent.setChild(path[j].level, nil)
		t.nodes--
		n = path[j].parent
	}
	return true
}

// removeAt deletes n.subs[i], moving the last entry into its place.
func (n *node[K]) removeAt(i int) {
	last := len(n.subs) - 1
	if n.idx != nil {
		delete(n.idx, subID[K]{n.subs[i].Key, n.subs[i].Group})
		if i != last {
			n.idx[subID[K]{n.subs[last].Key, n.subs[last].Group}] = i
		}
	}
	n.subs[i] = n.subs[last]
	n.subs[last] = Sub[K]{} // drop references for the GC
	n.subs = n.subs[:last]
	switch {
	case last == 0:
		n.subs, n.idx, n.filter = nil, nil, ""
	case last <= indexMin/2:
		n.idx = nil
		fallthrough
	default:
		if cap(n.subs) > 32 && cap(n.subs) > 4*last {
			n.subs = append([]Sub[K](nil), n.subs...) // give back most of the array
		}
	}
}

// Range calls fn for every subscription with its plain filter, in an
// unspecified order, until fn returns false. fn must not modify the tree.
func (t *Tree[K]) Range(fn func(filter string, s Sub[K]) bool) {
	t.root.walk(fn)
}

func (n *node[K]) walk(fn func(string, Sub[K]) bool) bool {
	for _, s := range n.subs {
		if !fn(n.filter, s) {
			return false
		}
	}
	for _, c := range n.lits {
		if !c.walk(fn) {
			return false
		}
	}
	if n.plus != nil && !n.plus.walk(fn) {
		return false
	}
	return n.hash == nil || n.hash.walk(fn)
}
