package mqtt

import (
	"gatemq/mqtt/topic"
)

// pickShared keeps, in place, one member of each shared subscription group
// that matched: connected members first, spread by message id.
func pickShared(subs []topic.Sub[*session], msgID uint64) []topic.Sub[*session] {
	shared := false
	for i := range subs {
		if subs[i].Group != "" {
			shared = true
			break
		}
	}
	if !shared {
		return subs
	}
	out := subs[:0]
	for i := 0; i < len(subs); i++ {
		s := subs[i]
		if s.Group == "" {
			out = append(out, s)
			continue
		}
		if s.Key == nil { // already handled with its group
			continue
		}
		// Members of this group, in match order.
		var members [16]int
		idx := members[:0]
		for j := i; j < len(subs); j++ {
			if subs[j].Key != nil && subs[j].Group == s.Group {
				idx = append(idx, j)
			}
		}
		start := int(msgID % uint64(len(idx)))
		chosen := idx[start]
		for k := range idx {
			j := idx[(start+k)%len(idx)]
			ss := subs[j].Key
			ss.mu.Lock()
			online := ss.conn != nil || ss.local != nil
			ss.mu.Unlock()
			if online {
				chosen = j
				break
			}
		}
		pick := subs[chosen]
		for _, j := range idx {
			subs[j].Key = nil
		}
		out = append(out, pick)
	}
	clear(subs[len(out):])
	return out
}
