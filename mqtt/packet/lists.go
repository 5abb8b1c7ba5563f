package packet

import (
	"bytes"
	"encoding/binary"
	"iter"
)

// The lists of SUBSCRIBE and UNSUBSCRIBE are kept in their wire form, like UserProperties and for the
// same reason: a filter can be empty on the wire (2 bytes, 3 with its options) but would take 24 to 32
// bytes as a Go value, so a large SUBSCRIBE of empty filters would cost ten times its size. A decoded
// list is a view into the packet body; a built one (SubscriptionsOf, TopicFiltersOf) owns one
// allocation of its wire size.

// Subscriptions is the ordered list of Topic Filter / Subscription Options pairs of a SUBSCRIBE, in wire
// form: each is a UTF-8 Encoded String and the options byte (5.0 layout; a decoded 3.1.1 list carries
// only the QoS bits). The zero value is the empty list.
type Subscriptions struct {
	raw []byte
	n   int
}

// SubscriptionsOf returns a list of subs in this order, in one allocation. Only the bits each field may
// use are kept (QoS 0-3, RetainHandling 0-3). It panics if a filter is longer than 65535 bytes.
func SubscriptionsOf(subs ...Subscription) Subscriptions {
	size := 0
	for i := range subs {
		size += 2 + len(subs[i].Filter) + 1
	}
	if size == 0 {
		return Subscriptions{}
	}
	raw := make([]byte, 0, size)
	for i := range subs {
		s := &subs[i]
		opts := s.QoS & optQoS
		if s.NoLocal {
			opts |= optNoLocal
		}
		if s.RetainAsPublished {
			opts |= optRetainAsPub
		}
		opts |= s.RetainHandling << optRHShift & optRetainHandling
		raw = append(appendBinary(raw, s.Filter), opts)
	}
	return Subscriptions{raw: raw, n: len(subs)}
}

// Len returns the number of subscriptions.
func (l Subscriptions) Len() int { return l.n }

// All returns an iterator over the subscriptions in order; each Filter is a view into the list's bytes.
// It allocates nothing.
func (l Subscriptions) All() iter.Seq[Subscription] {
	return func(yield func(Subscription) bool) {
		for off := 0; off+2 <= len(l.raw); {
			end := off + 2 + int(binary.BigEndian.Uint16(l.raw[off:]))
			if end >= len(l.raw) {
				return
			}
			opts := l.raw[end]
			s := Subscription{Filter: l.raw[off+2 : end : end], QoS: opts & optQoS, NoLocal: opts&optNoLocal != 0,
				RetainAsPublished: opts&optRetainAsPub != 0, RetainHandling: opts & optRetainHandling >> optRHShift}
			off = end + 1
			if !yield(s) {
				return
			}
		}
	}
}

// Slice returns the subscriptions as a new slice (nil for an empty list); the filters are views into l.
func (l Subscriptions) Slice() []Subscription {
	if l.n == 0 {
		return nil
	}
	out := make([]Subscription, 0, l.n)
	for s := range l.All() {
		out = append(out, s)
	}
	return out
}

// Equal reports whether l and m hold the same subscriptions in the same order.
func (l Subscriptions) Equal(m Subscriptions) bool {
	return l.n == m.n && bytes.Equal(l.raw, m.raw)
}

// appendWire appends the list for a SUBSCRIBE of the given version: 3.1.1 options carry only the QoS.
func (l Subscriptions) appendWire(dst []byte, v5 bool) []byte {
	if v5 {
		return append(dst, l.raw...)
	}
	for s := range l.All() {
		dst = append(appendBinary(dst, s.Filter), s.QoS)
	}
	return dst
}

// TopicFilters is the ordered list of Topic Filters of an UNSUBSCRIBE, in wire form (UTF-8 Encoded
// Strings). The zero value is the empty list.
type TopicFilters struct {
	raw []byte
	n   int
}

// TopicFiltersOf returns a list of filters in this order, in one allocation. It panics if a filter is
// longer than 65535 bytes.
func TopicFiltersOf(filters ...[]byte) TopicFilters {
	size := 0
	for _, f := range filters {
		size += 2 + len(f)
	}
	if size == 0 {
		return TopicFilters{}
	}
	raw := make([]byte, 0, size)
	for _, f := range filters {
		raw = appendBinary(raw, f)
	}
	return TopicFilters{raw: raw, n: len(filters)}
}

// Len returns the number of filters.
func (l TopicFilters) Len() int { return l.n }

// All returns an iterator over the filters in order, views into the list's bytes. It allocates
// nothing.
func (l TopicFilters) All() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for off := 0; off+2 <= len(l.raw); {
			end := off + 2 + int(binary.BigEndian.Uint16(l.raw[off:]))
			if end > len(l.raw) {
				return
			}
			f := l.raw[off+2 : end : end]
			off = end
			if !yield(f) {
				return
			}
		}
	}
}

// Slice returns the filters as a new slice (nil for an empty list) of views into l.
func (l TopicFilters) Slice() [][]byte {
	if l.n == 0 {
		return nil
	}
	out := make([][]byte, 0, l.n)
	for f := range l.All() {
		out = append(out, f)
	}
	return out
}

// Equal reports whether l and m hold the same filters in the same order.
func (l TopicFilters) Equal(m TopicFilters) bool {
	return l.n == m.n && bytes.Equal(l.raw, m.raw)
}
