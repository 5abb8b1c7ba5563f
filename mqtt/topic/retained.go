package topic

import (
	"slices"
	"strings"
)

// rnode is one level of the retained-message trie.
type rnode[V any] struct {
	level string      // this node's level name (a substring of a topic)
	kids  []*rnode[V] // children sorted by level; nil when none
	topic string      // full topic name when has
	val   V
	has   bool
}

// Retained stores the last retained message per topic name, in a trie by
// level so that a wildcard filter visits only matching branches. V is the
// caller's message handle. The zero Retained is not usable; call
// NewRetained. It is not safe for concurrent use; Match and Get do not
// modify it, so a read lock suffices for them.
type Retained[V any] struct {
	root  rnode[V]
	n     int // stored messages
	nodes int // nodes below root
}

// NewRetained returns an empty store.
func NewRetained[V any]() *Retained[V] { return &Retained[V]{} }

// Len returns the number of retained messages.
func (r *Retained[V]) Len() int { return r.n }

// find returns the position of level among n's children and whether it is there.
func (n *rnode[V]) find(level string) (int, bool) {
	return slices.BinarySearchFunc(n.kids, level, func(c *rnode[V], l string) int {
		return strings.Compare(c.level, l)
	})
}

// lookup returns the node for the topic name, or nil.
func (r *Retained[V]) lookup(topic string) *rnode[V] {
	n := &r.root
	rest, more := topic, true
	for more {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		i, ok := n.find(level)
		if !ok {
			return nil
		}
		n = n.kids[i]
	}
	return n
}

// Set stores v as the retained message of the topic name, replacing any
// previous one. topic should have passed ValidName; the store keeps it.
// The caller deletes instead of storing an empty payload [MQTT-3.3.1-10].
func (r *Retained[V]) Set(topic string, v V) {
	n := &r.root
	rest, more := topic, true
	for more {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		i, ok := n.find(level)
		if !ok {
			n.kids = slices.Insert(n.kids, i, &rnode[V]{level: level})
			r.nodes++
		}
		n = n.kids[i]
	}
	if !n.has {
		r.n++
	}
	n.topic, n.val, n.has = topic, v, true
}

// Get returns the retained message of the topic name and whether there is one.
func (r *Retained[V]) Get(topic string) (V, bool) {
	if n := r.lookup(topic); n != nil && n.has {
		return n.val, true
	}
	var zero V
	return zero, false
}

// Delete removes the retained message of the topic name (a retained PUBLISH
// with an empty payload clears it [MQTT-3.3.1-10]) and reports whether there
// was one. Nodes left empty are removed so their memory can be reclaimed.
func (r *Retained[V]) Delete(topic string) bool {
	type step struct {
		parent *rnode[V]
		i      int
	}
	var stack [16]step
	path := stack[:0]
	n := &r.root
	rest, more := topic, true
	for more {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		i, ok := n.find(level)
		if !ok {
			return false
		}
		path = append(path, step{n, i})
		n = n.kids[i]
	}
	if !n.has {
		return false
	}
	var zero V
	n.topic, n.val, n.has = "", zero, false
	r.n--
	for j := len(path) - 1; j >= 0 && !n.has && len(n.kids) == 0; j-- {
		p := path[j].parent
		p.kids = slices.Delete(p.kids, path[j].i, path[j].i+1) // clears the freed slot
		if len(p.kids) == 0 {
			p.kids = nil
		}
		r.nodes--
		n = p
	}
	return true
}

// Range calls fn for every retained message until fn returns false. The
// order is stable: topics sorted level by level (so "a" comes before "a/b"
// before "a-b"). fn must not modify the store.
func (r *Retained[V]) Range(fn func(topic string, v V) bool) {
	r.root.walk(false, fn)
}

// Match calls fn for every retained message whose topic name matches the
// plain filter (see Match for the rules, including the '$' rule
// [MQTT-4.7.2-1]), in the order of Range, until fn returns false. Only the
// branches the filter can match are visited. fn must not modify the store.
func (r *Retained[V]) Match(filter string, fn func(topic string, v V) bool) {
	r.root.match(filter, true, fn)
}

// walk calls fn for n (unless it is the root) and every node below it, in
// pre-order; skipDollar skips children whose level starts with '$'.
func (n *rnode[V]) walk(skipDollar bool, fn func(string, V) bool) bool {
	if n.has && !fn(n.topic, n.val) {
		return false
	}
	for _, c := range n.kids {
		if skipDollar && strings.HasPrefix(c.level, "$") {
			continue
		}
		if !c.walk(false, fn) {
			return false
		}
	}
	return true
}

// match calls fn for the nodes below n matching filter; atRoot applies the
// '$' rule to n's children. It returns false once fn has.
func (n *rnode[V]) match(filter string, atRoot bool, fn func(string, V) bool) bool {
	level, rest, more := strings.Cut(filter, "/")
	switch {
	case level == "#" && !more:
		// The parent level and everything below it [MQTT-4.7.1-2];
		// the root holds no message, so "#" alone is only the children.
		return n.walk(atRoot, fn)
	case level == "+":
		for _, c := range n.kids {
			if atRoot && strings.HasPrefix(c.level, "$") {
				continue // [MQTT-4.7.2-1]
			}
			if more {
				if !c.match(rest, false, fn) {
					return false
				}
			} else if c.has && !fn(c.topic, c.val) {
				return false
			}
		}
		return true
	}
	i, ok := n.find(level)
	if !ok {
		return true
	}
	c := n.kids[i]
	if more {
		return c.match(rest, false, fn)
	}
	return !c.has || fn(c.topic, c.val)
}
